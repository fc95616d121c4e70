//! `reasoner generate --prompt TEXT [--raw] [--json]`: one completion. Without --raw the prompt
//! is a user message in the model's chat template; with --raw it is fed as plain text.

use super::transcript::Transcript;
use crate::model_arg;
use crate::sampling_args::SamplingArgs;
use anyhow::{Context, Result};
use clap::Args;
use reasoner_engine::prompt::{chat_prompt, ends_inside_think};
use reasoner_engine::{Engine, GenerationRequest};
use reasoner_model::chat_template::ChatMessage;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    #[arg(long)]
    pub prompt: String,
    /// Feed the prompt as raw text (no chat template).
    #[arg(long)]
    pub raw: bool,
    /// Print one JSON object instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// A system message (chat mode only).
    #[arg(long)]
    pub system: Option<String>,
    /// Stop when this text appears (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let m = model_arg::open_with_cache(&a.model, a.kv_cache)?;
    let params = a.sampling.resolve(&m.generation)?;
    let (ids, think_open) = if a.raw {
        let tok = m.tokenizer.as_ref().with_context(|| format!("{}: no tokenizer.json", m.path.display()))?;
        (tok.encode(&a.prompt, true)?, ends_inside_think(&a.prompt))
    } else {
        let mut msgs = Vec::new();
        if let Some(s) = &a.system {
            msgs.push(ChatMessage::new("system", s));
        }
        msgs.push(ChatMessage::new("user", &a.prompt));
        let p = chat_prompt(&m, &msgs, &Default::default())?;
        (p.ids, p.think_open)
    };
    let engine = Engine::new(&m);
    let req = GenerationRequest { prompt_ids: ids, params, stop: a.stop.clone(), think_open };
    let mut transcript = Transcript::new(true);
    let json = a.json;
    let (mut done, stats) = engine.generate(std::slice::from_ref(&req), |_, seg| {
        if !json {
            transcript.segment(seg)
        }
    })?;
    let c = done.remove(0);
    if json {
        let v = serde_json::json!({
            "reasoning_content": c.reasoning,
            "content": c.content,
            "finish_reason": c.finish_reason,
            "token_ids": c.token_ids,
            "usage": {
                "prompt_tokens": c.prompt_tokens,
                "completion_tokens": c.completion_tokens,
                "total_tokens": c.prompt_tokens + c.completion_tokens,
                "completion_tokens_details": {"reasoning_tokens": c.reasoning_tokens},
            },
            "timing": stats,
        });
        println!("{v}");
    } else {
        transcript.finish();
    }
    Ok(())
}
