//! tiny-r1, the default model, compiled into the binary. On first use its files are written to
//! a per-content directory under the user's cache (`$XDG_CACHE_HOME/reasoner` or
//! `~/.cache/reasoner`), atomically, and loaded from there like any Hugging Face directory.

use anyhow::{Context, Result};
use std::path::PathBuf;

#[cfg(embedded_tiny_r1)]
macro_rules! model_file {
    ($name:literal) => {
        ($name, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/tiny-r1/", $name)) as &[u8])
    };
}

#[cfg(embedded_tiny_r1)]
const FILES: &[(&str, &[u8])] = &[
    model_file!("config.json"),
    model_file!("model.safetensors"),
    model_file!("tokenizer.json"),
    model_file!("tokenizer_config.json"),
    model_file!("generation_config.json"),
];

#[cfg(not(embedded_tiny_r1))]
const FILES: &[(&str, &[u8])] = &[];

/// The directory holding the embedded tiny-r1, written there first if needed; `None` in a
/// build made before the model existed.
pub fn embedded_model_dir() -> Result<Option<PathBuf>> {
    if FILES.is_empty() {
        return Ok(None);
    }
    let hash = FILES.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, (name, bytes)| {
        let h = name.bytes().fold(h, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
        // Length and a sample of the bytes: enough to tell two builds' models apart, cheap at start-up.
        let h = (h ^ bytes.len() as u64).wrapping_mul(0x0100_0000_01b3);
        bytes.iter().step_by(4099).fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
    });
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("reasoner");
    let dir = base.join(format!("tiny-r1-{hash:016x}"));
    let complete = FILES
        .iter()
        .all(|(name, bytes)| std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == bytes.len() as u64));
    if complete {
        return Ok(Some(dir));
    }
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let tmp = base.join(format!(".tiny-r1-{hash:016x}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    for (name, bytes) in FILES {
        std::fs::write(tmp.join(name), bytes).with_context(|| format!("writing {}", tmp.join(name).display()))?;
    }
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another process put it there first (or an incomplete copy is in the way).
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    Ok(Some(dir))
}
