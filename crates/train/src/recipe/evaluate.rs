//! Scoring one stage's model on the recipe's evaluation sets: one sample per problem at R1's
//! evaluation settings (temperature 0.6, top-p 0.95), graded by the tasks crate, through the
//! batched engine.

use crate::error::{Result, TrainError};
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{Engine, GenerationRequest, SamplingParams};
use reasoner_model::LoadedModel;
use reasoner_model::chat_template::ChatMessage;
use reasoner_tasks::{Problem, PromptConfig, RewardConfig, build_prompt, reward, with_prompt_think};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageScore {
    pub set: String,
    pub n: usize,
    pub pass_at_1: f64,
    pub mean_tokens: f64,
    pub mean_think_tokens: f64,
    /// Share of answers with closed thinking and a boxed answer.
    pub format_ok: f64,
}

/// pass@1 of `model` on `problems` (one sample each, seeded per problem).
pub fn evaluate_model(
    model: &LoadedModel,
    set: &str,
    problems: &[Problem],
    max_tokens: usize,
    seed: u64,
) -> Result<StageScore> {
    let tok = model.tokenizer.as_ref().ok_or_else(|| TrainError::Invalid("the model has no tokenizer".into()))?;
    let prompt_cfg = PromptConfig::default();
    let reward_cfg = RewardConfig::default();
    let (mut correct, mut tokens, mut think, mut fmt) = (0usize, 0usize, 0usize, 0usize);
    for (b, chunk) in problems.chunks(32).enumerate() {
        let mut requests = Vec::with_capacity(chunk.len());
        for (i, p) in chunk.iter().enumerate() {
            let msg =
                ChatMessage { role: "user".into(), content: build_prompt(p, &prompt_cfg), reasoning_content: None };
            let prompt = chat_prompt(model, &[msg], &serde_json::Map::new())?;
            let params = SamplingParams {
                temperature: 0.6,
                top_p: 0.95,
                top_k: 0,
                min_p: 0.0,
                repeat_penalty: 1.0,
                seed: seed.wrapping_add((b * 32 + i) as u64),
                max_tokens,
            };
            requests.push(GenerationRequest {
                prompt_ids: prompt.ids,
                params,
                stop: Vec::new(),
                think_open: prompt.think_open,
            });
        }
        let (completions, _) = Engine::new(model).generate(&requests, |_, _| {})?;
        for ((p, c), r) in chunk.iter().zip(&completions).zip(&requests) {
            let decoded = tok.decode(&c.token_ids, false)?;
            let text = if r.think_open { with_prompt_think(&decoded) } else { decoded };
            let rb = reward(p, &text, &reward_cfg);
            correct += rb.correct as usize;
            fmt += (rb.think_closed && rb.answer_form_ok) as usize;
            tokens += c.completion_tokens;
            think += c.reasoning_tokens;
        }
    }
    let n = problems.len().max(1) as f64;
    Ok(StageScore {
        set: set.to_string(),
        n: problems.len(),
        pass_at_1: correct as f64 / n,
        mean_tokens: tokens as f64 / n,
        mean_think_tokens: think as f64 / n,
        format_ok: fmt as f64 / n,
    })
}
