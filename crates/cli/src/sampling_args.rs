//! The sampling flags shared by `chat`, `generate` and `eval`; unset flags fall back to the
//! model's generation_config.json, then to DeepSeek's recommended defaults for R1. Each help
//! text says which default applies, and a seed left unset is drawn at random (shown by --verbose).

use anyhow::{Result, bail};
use clap::Args;
use reasoner_engine::SamplingParams;
use reasoner_model::config::GenerationDefaults;

/// Max tokens when neither the flag nor generation_config.json sets it: DeepSeek evaluates R1
/// with 32,768, and R1-style thinking often runs past a few thousand tokens.
pub const DEFAULT_MAX_TOKENS: usize = 32_768;

#[derive(Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Sampling temperature; 0 is greedy [default: the model's generation_config.json, else 0.6]
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to P
    /// [default: generation_config.json, else 0.95]
    #[arg(long, value_name = "P")]
    pub top_p: Option<f32>,
    /// Keep only the K most likely tokens; 0 keeps all [default: generation_config.json, else 0]
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Drop tokens less likely than P times the most likely one; 0 is off
    /// [default: generation_config.json, else 0]
    #[arg(long, value_name = "P")]
    pub min_p: Option<f32>,
    /// Penalise tokens already seen: positive logits divided by this, negative ones multiplied
    /// (as transformers' repetition_penalty); 1 is off
    /// [default: generation_config.json's repetition_penalty, else 1]
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// Seed of the sampler, to repeat a run [default: random; --verbose prints it]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Most tokens to generate, thinking included; never past the model's context window
    /// [default: generation_config.json's max_new_tokens, else 32768]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
}

impl SamplingArgs {
    pub fn resolve(&self, defaults: &GenerationDefaults) -> Result<SamplingParams> {
        let base = SamplingParams::default();
        let sampled = defaults.do_sample.unwrap_or(true);
        let p = SamplingParams {
            temperature: self
                .temperature
                .or(if sampled { defaults.temperature.map(|t| t as f32) } else { Some(0.0) })
                .unwrap_or(base.temperature),
            top_p: self.top_p.or(defaults.top_p.map(|t| t as f32)).unwrap_or(base.top_p),
            top_k: self.top_k.or(defaults.top_k).unwrap_or(base.top_k),
            min_p: self.min_p.or(defaults.min_p.map(|t| t as f32)).unwrap_or(base.min_p),
            repeat_penalty: self
                .repeat_penalty
                .or(defaults.repetition_penalty.map(|t| t as f32))
                .unwrap_or(base.repeat_penalty),
            seed: self.seed.unwrap_or_else(random_seed),
            max_tokens: self.max_tokens.or(defaults.max_new_tokens).unwrap_or(DEFAULT_MAX_TOKENS),
        };
        // The engine names the field (`top_p`); here the user typed the flag (`--top-p`).
        p.validate().map_err(|e| match e {
            reasoner_engine::EngineError::InvalidParam { field, message } => {
                anyhow::anyhow!("--{}: {message}", field.replace('_', "-"))
            }
            other => other.into(),
        })?;
        Ok(p)
    }
}

/// A seed from the OS's per-process hash keys and the clock: different on every run.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// Keeps a generation inside the context window: a prompt that fills it is refused, and
/// `max_tokens` is cut so that prompt + reply fit (reaching it ends with reason `length`).
/// Returns whether `max_tokens` was cut.
pub fn fit_context(params: &mut SamplingParams, prompt_tokens: usize, context: usize) -> Result<bool> {
    if context == 0 {
        return Ok(false);
    }
    if prompt_tokens >= context {
        bail!(
            "the prompt is {prompt_tokens} tokens, and the model's context window (max_position_embeddings) \
             is {context}: no room to generate; shorten the prompt"
        );
    }
    let room = context - prompt_tokens;
    let cut = params.max_tokens > room;
    params.max_tokens = params.max_tokens.min(room);
    Ok(cut)
}

/// One line for --verbose: the settings a run can be repeated with.
pub fn describe(p: &SamplingParams) -> String {
    format!(
        "seed {} · temperature {} · top-p {} · top-k {} · min-p {} · repeat-penalty {} · max-tokens {}",
        p.seed, p.temperature, p.top_p, p.top_k, p.min_p, p.repeat_penalty, p.max_tokens
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_window_cuts_and_refuses() {
        let mut p = SamplingParams { max_tokens: 1000, ..Default::default() };
        assert!(fit_context(&mut p, 200, 256).unwrap());
        assert_eq!(p.max_tokens, 56);
        assert!(!fit_context(&mut p, 10, 256).unwrap());
        assert_eq!(p.max_tokens, 56);
        let e = fit_context(&mut p, 256, 256).unwrap_err().to_string();
        assert!(e.contains("256 tokens") && e.contains("max_position_embeddings"), "{e}");
    }

    #[test]
    fn unset_seed_is_random_and_max_tokens_generous() {
        let args = SamplingArgs {
            temperature: None,
            top_p: None,
            top_k: None,
            min_p: None,
            repeat_penalty: None,
            seed: None,
            max_tokens: None,
        };
        let d = GenerationDefaults::default();
        let (a, b) = (args.resolve(&d).unwrap(), args.resolve(&d).unwrap());
        assert_ne!(a.seed, b.seed);
        assert_eq!(a.max_tokens, DEFAULT_MAX_TOKENS);
        let fixed = SamplingArgs { seed: Some(7), ..args };
        assert_eq!(fixed.resolve(&d).unwrap().seed, 7);
    }
}
