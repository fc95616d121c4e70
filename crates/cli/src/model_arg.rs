//! `--model PATH`: an HF directory (or, later, a .gguf file); omitted means the embedded tiny-r1.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use reasoner_model::{load_model, KvDtype, LoadedModel};
use std::path::PathBuf;

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

/// `open`, with caches in the dtype `--kv-cache` asks for.
pub fn open_with_cache(model: &Option<PathBuf>, cache: KvCacheArg) -> Result<LoadedModel> {
    let mut m = open(model)?;
    m.kv_dtype = match cache.kv_cache {
        KvCacheType::F16 => KvDtype::F16,
        KvCacheType::F32 => KvDtype::F32,
    };
    Ok(m)
}

pub fn open(model: &Option<PathBuf>) -> Result<LoadedModel> {
    let Some(path) = model else {
        bail!(
            "no --model given, and this build has no embedded tiny-r1 model yet; \
             pass --model DIR (a Hugging Face model directory), e.g. --model tests/fixtures/qwen2_f32"
        );
    };
    load_model(path).with_context(|| format!("loading model from {}", path.display()))
}
