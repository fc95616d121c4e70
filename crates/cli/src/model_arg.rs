//! `--model` (`-m`): which model a command loads, resolved in one place. An HF directory, a .gguf
//! file, or `ORG/NAME` from the local Hugging Face cache; omitted, `$REASONER_MODEL`, then the
//! default model (`default_model`, where the embedded tiny-r1 plugs in).

use crate::hf_cache;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use reasoner_model::quant::GgmlType;
use reasoner_model::{KvDtype, LoadOptions, LoadedModel, load_model_with};
use std::path::{Path, PathBuf};

/// Help text of every `--model` flag.
pub const MODEL_HELP: &str = "The model: a Hugging Face directory, a .gguf file, or ORG/NAME from the local Hugging Face \
cache (`reasoner pull ORG/NAME` puts it there) [default: $REASONER_MODEL]";

/// The environment variable that names the default model.
pub const MODEL_ENV: &str = "REASONER_MODEL";

/// `--kv-cache f16|f32` for the commands that decode with a cache.
#[derive(Args, Clone, Copy)]
pub struct KvCacheArg {
    /// How the KV cache stores keys and values: f16 halves its memory and the bytes attention
    /// reads per token (llama.cpp's default); f32 keeps the reference's exact numbers.
    /// DeepSeek's MLA latent cache stays f32.
    #[arg(long = "kv-cache", value_enum, default_value_t = KvCacheType::F16)]
    pub kv_cache: KvCacheType,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KvCacheType {
    F16,
    F32,
}

/// `--quantize TYPE` and `--lazy-experts` for the commands that load a model to run it.
#[derive(Args, Clone, Copy, Default)]
pub struct LoadArg {
    /// Quantize the weights while loading (q8_0, q4_k, q6_k, q5_0, q4_0, f16, bf16): tensor by
    /// tensor, the same choice and the same numbers as `reasoner quantize --to TYPE` followed by
    /// loading the GGUF, without writing it; f32 widens every weight (the reference's exact
    /// numbers, 4 bytes a weight). Default: weights as stored (bf16/f16 and packed GGUF types run
    /// as they are, f32 stays f32), except DeepSeek's FP8, which becomes Q8_0.
    #[arg(long = "quantize", value_name = "TYPE", value_parser = reasoner_model::formats::quantize::parse_target)]
    pub quantize: Option<GgmlType>,
    /// Mixture-of-experts models: leave the routed experts in the file's memory map, paged in
    /// by the OS as tokens use them (a model larger than memory still runs), instead of copying
    /// them into memory at load [default: auto, on when the weights exceed 3/4 of the
    /// available memory]
    #[arg(long = "lazy-experts", value_name = "on|off", value_parser = parse_on_off)]
    pub lazy_experts: Option<bool>,
}

fn parse_on_off(s: &str) -> std::result::Result<bool, String> {
    match s {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(format!("`{other}`: expected on or off")),
    }
}

/// `open`, with caches in the dtype `--kv-cache` asks for.
pub fn open_with_cache(model: &Option<PathBuf>, cache: KvCacheArg, load: LoadArg) -> Result<LoadedModel> {
    let mut m = open_with(model, load)?;
    m.kv_dtype = match cache.kv_cache {
        KvCacheType::F16 => KvDtype::F16,
        KvCacheType::F32 => KvDtype::F32,
    };
    Ok(m)
}

pub fn open(model: &Option<PathBuf>) -> Result<LoadedModel> {
    open_with(model, LoadArg::default())
}

/// `open`, quantizing at load when `--quantize` says so.
pub fn open_with(model: &Option<PathBuf>, load: LoadArg) -> Result<LoadedModel> {
    let path = resolve(model)?;
    let opts = LoadOptions { quantize: load.quantize, lazy_experts: load.lazy_experts };
    load_model_with(&path, &opts).with_context(|| format!("loading model from {}", path.display()))
}

/// The model used when neither `--model` nor `$REASONER_MODEL` names one: the embedded tiny-r1
/// (written to the user's cache on first use), in builds that carry it.
fn default_model() -> Result<Option<PathBuf>> {
    crate::embedded_model::embedded_model_dir()
}

/// The path `--model` (or its defaults) stands for. Reads only the local disk.
pub fn resolve(model: &Option<PathBuf>) -> Result<PathBuf> {
    let from_env = || std::env::var_os(MODEL_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    let (spec, origin) = match (model, from_env()) {
        (Some(p), _) => (p.clone(), "--model"),
        (None, Some(p)) => (p, MODEL_ENV),
        (None, None) => match default_model()? {
            Some(p) => return Ok(p),
            None => bail!(
                "no model given: pass --model (-m) with a Hugging Face directory, a .gguf file or ORG/NAME \
                 from the local Hugging Face cache, or set {MODEL_ENV}; e.g. -m tests/fixtures/qwen2_f32"
            ),
        },
    };
    resolve_spec(&spec, origin, &hf_cache::hub_dir())
}

fn resolve_spec(spec: &Path, origin: &str, hub: &Path) -> Result<PathBuf> {
    if spec.exists() {
        return Ok(spec.to_path_buf());
    }
    let text = spec.to_string_lossy();
    if hf_cache::is_repo_id(&text) {
        if let Some(snap) = hf_cache::snapshot(hub, &text) {
            return Ok(hf_cache::model_in_snapshot(&snap));
        }
        bail!(
            "{origin} {text}: no such file or directory, and no {text} in the Hugging Face cache {} \
             (looked for {}); `reasoner pull {text}` downloads it",
            hub.display(),
            hf_cache::repo_dir(hub, &text).display()
        );
    }
    bail!("{origin} {text}: no such file or directory (expected a Hugging Face directory, a .gguf file or ORG/NAME)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_first_then_the_cache() {
        let hub = tempfile::tempdir().unwrap();
        let snap = hf_cache::repo_dir(hub.path(), "org/tiny").join("snapshots/abc");
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(resolve_spec(Path::new("org/tiny"), "--model", hub.path()).unwrap(), snap);
        let here = std::env::current_dir().unwrap();
        assert_eq!(resolve_spec(&here, "--model", hub.path()).unwrap(), here);
        let e = resolve_spec(Path::new("org/missing"), "--model", hub.path()).unwrap_err().to_string();
        assert!(e.contains("reasoner pull org/missing") && e.contains("models--org--missing"), "{e}");
        let e = resolve_spec(Path::new("./nope"), "REASONER_MODEL", hub.path()).unwrap_err().to_string();
        assert!(e.starts_with("REASONER_MODEL ./nope: no such file"), "{e}");
    }
}
