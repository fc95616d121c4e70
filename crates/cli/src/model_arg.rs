//! `--model PATH`: an HF directory (or, later, a .gguf file); omitted means the embedded tiny-r1.

use anyhow::{bail, Context, Result};
use reasoner_model::{load_model, LoadedModel};
use std::path::PathBuf;

pub fn open(model: &Option<PathBuf>) -> Result<LoadedModel> {
    let Some(path) = model else {
        bail!(
            "no --model given, and this build has no embedded tiny-r1 model yet; \
             pass --model DIR (a Hugging Face model directory), e.g. --model tests/fixtures/qwen2_f32"
        );
    };
    load_model(path).with_context(|| format!("loading model from {}", path.display()))
}
