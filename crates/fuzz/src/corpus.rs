//! Cases on disk: laying a case out where the loader expects it (the seed's directory mirrored
//! by links, the mutated file written in place of the seed's), and crash-corpus entries, which
//! store a case as its seed plus the changed middle, so a mutated 1 MB GGUF costs a few bytes.

use crate::formats::Format;
use crate::run_case::Outcome;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Writes case `bytes` of `format` under `work` and returns the path to hand the loader.
pub fn lay_out(format: Format, root: &Path, base: &Path, bytes: &[u8], work: &Path) -> Result<PathBuf> {
    let dir = work.join("case");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if !format.in_seed_dir() {
        let name = if format == Format::Cli { "args.json" } else { "chat_template.jinja" };
        let file = dir.join(name);
        std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
        return Ok(file);
    }
    let name = base.file_name().with_context(|| format!("seed {} has no file name", base.display()))?;
    let seed_dir = root.join(base.parent().unwrap_or(Path::new(".")));
    for entry in std::fs::read_dir(&seed_dir).with_context(|| format!("reading {}", seed_dir.display()))? {
        let entry = entry?;
        if entry.file_name() != name {
            std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name()))?;
        }
    }
    let file = dir.join(name);
    std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))?;
    Ok(if matches!(format, Format::Safetensors | Format::Config) { dir } else { file })
}

/// A case as stored in a corpus: its format, seed, and bytes.
pub struct Entry {
    pub format: Format,
    pub base: PathBuf,
    pub bytes: Vec<u8>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The JSON of a corpus entry: `bytes` as `seed[..prefix] + middle + seed[len - suffix..]`.
pub fn entry_json(format: Format, root: &Path, base: &Path, bytes: &[u8], outcome: &Outcome, found: &str) -> Value {
    let seed = if format.in_seed_dir() { std::fs::read(root.join(base)).unwrap_or_default() } else { Vec::new() };
    let prefix = seed.iter().zip(bytes).take_while(|(a, b)| a == b).count();
    let room = seed.len().min(bytes.len()) - prefix;
    let suffix = seed.iter().rev().zip(bytes.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
    let middle = &bytes[prefix..bytes.len() - suffix];
    let mut v = json!({
        "format": format.name(),
        "base": base.display().to_string(),
        "prefix": prefix,
        "suffix": suffix,
        "outcome": outcome.kind(),
        "detail": outcome.detail().chars().take(500).collect::<String>(),
        "found": found,
    });
    match std::str::from_utf8(middle) {
        Ok(text) => v["middle_text"] = json!(text),
        Err(_) => v["middle_hex"] = json!(hex(middle)),
    }
    v
}

/// Reads a corpus entry written by `entry_json` back into its bytes.
pub fn read_entry(root: &Path, file: &Path) -> Result<Entry> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let field = |k: &str| v.get(k).with_context(|| format!("{}: missing `{k}`", file.display()));
    let format_name = field("format")?.as_str().unwrap_or_default();
    let Some(format) = Format::parse(format_name) else { bail!("{}: unknown format `{format_name}`", file.display()) };
    let base = PathBuf::from(field("base")?.as_str().unwrap_or_default());
    let prefix = field("prefix")?.as_u64().unwrap_or(0) as usize;
    let suffix = field("suffix")?.as_u64().unwrap_or(0) as usize;
    let middle = match (v.get("middle_text").and_then(Value::as_str), v.get("middle_hex").and_then(Value::as_str)) {
        (Some(t), _) => t.as_bytes().to_vec(),
        (None, Some(h)) => unhex(h).with_context(|| format!("{}: `middle_hex` is not hex", file.display()))?,
        (None, None) => bail!("{}: neither `middle_text` nor `middle_hex`", file.display()),
    };
    let seed = if prefix + suffix > 0 {
        std::fs::read(root.join(&base)).with_context(|| format!("{}: seed {}", file.display(), base.display()))?
    } else {
        Vec::new()
    };
    if prefix + suffix > seed.len() {
        bail!("{}: prefix + suffix pass the seed {} (was it remade?)", file.display(), base.display());
    }
    let mut bytes = seed[..prefix].to_vec();
    bytes.extend_from_slice(&middle);
    bytes.extend_from_slice(&seed[seed.len() - suffix..]);
    Ok(Entry { format, base, bytes })
}

/// Every `*.json` entry under `path` (a file or a folder, recursively), sorted.
pub fn entries_under(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(path) {
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                out.extend(entries_under(&p));
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry stores only the changed middle, and reads back byte for byte, text or binary.
    #[test]
    fn entries_round_trip_against_their_seed() {
        let root = std::env::temp_dir().join(format!("reasoner-fuzz-corpus-{}", std::process::id()));
        std::fs::create_dir_all(root.join("seeds")).unwrap();
        let seed: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        std::fs::write(root.join("seeds/model.gguf"), &seed).unwrap();
        let base = Path::new("seeds/model.gguf");
        let mut changed = seed.clone();
        changed[1000] ^= 0xff;
        changed.insert(3000, 0);
        let outcome = Outcome::Crash("failed allocation".into());
        for bytes in [changed, seed[..10].to_vec(), Vec::new(), seed.clone()] {
            let v = entry_json(Format::Gguf, &root, base, &bytes, &outcome, "test");
            assert!(v.to_string().len() < 2 * bytes.len().min(2100) + 400, "{v}");
            let file = root.join("entry.json");
            std::fs::write(&file, v.to_string()).unwrap();
            let e = read_entry(&root, &file).unwrap();
            assert_eq!(e.bytes, bytes);
            assert_eq!(e.format, Format::Gguf);
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
