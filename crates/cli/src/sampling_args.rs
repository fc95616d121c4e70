//! The sampling flags shared by `chat` and `generate`; unset flags fall back to the model's
//! generation_config.json, then to DeepSeek's recommended defaults for R1.

use clap::Args;
use reasoner_engine::SamplingParams;
use reasoner_model::config::GenerationDefaults;

#[derive(Args, Debug, Clone)]
pub struct SamplingArgs {
    /// 0 means greedy.
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub top_p: Option<f32>,
    /// 0 disables top-k.
    #[arg(long)]
    pub top_k: Option<usize>,
    #[arg(long)]
    pub min_p: Option<f32>,
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub max_tokens: Option<usize>,
}

impl SamplingArgs {
    pub fn resolve(&self, defaults: &GenerationDefaults) -> anyhow::Result<SamplingParams> {
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
            seed: self.seed,
            max_tokens: self.max_tokens.or(defaults.max_new_tokens).unwrap_or(base.max_tokens),
        };
        // The engine names the field (`top_p`); here the user typed the flag (`--top-p`).
        p.validate().map_err(|e| match e {
            reasoner_engine::EngineError::InvalidParam { field, message } => anyhow::anyhow!("--{}: {message}", field.replace('_', "-")),
            other => other.into(),
        })?;
        Ok(p)
    }
}
