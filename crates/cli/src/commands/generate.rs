//! `reasoner generate --prompt TEXT [--raw] [--json]`: one completion. Without --raw the prompt
//! is a user message in the model's chat template; with --raw it is fed as plain text. Text mode
//! ends with a line on stderr saying how many tokens, how fast and why the reply stopped.

use super::transcript::{Transcript, finish_words, print_dim, stats_line};
use crate::compute_args::ComputeArgs;
use crate::decode_args::DecodeArgs;
use crate::model_arg;
use crate::sampling_args::{SamplingArgs, describe, fit_context};
use anyhow::{Context, Result};
use clap::Args;
use reasoner_engine::prompt::{chat_prompt, ends_inside_think};
use reasoner_engine::{Engine, GenerationRequest};
use reasoner_model::chat_template::ChatMessage;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    /// The prompt (a user message unless --raw).
    #[arg(short, long)]
    pub prompt: String,
    /// Feed the prompt as raw text (no chat template).
    #[arg(long)]
    pub raw: bool,
    /// Print one JSON object (text, finish_reason, usage, timing) instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// A system message (chat mode only).
    #[arg(long)]
    pub system: Option<String>,
    /// Stop when this text appears (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Keep generating past the end-of-text token, up to --max-tokens (for benchmarks, as
    /// llama.cpp's --ignore-eos).
    #[arg(long)]
    pub ignore_eos: bool,
    /// Print the sampling settings (seed included, to repeat the run) before generating.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| generate(a))
}

fn generate(a: GenerateArgs) -> Result<()> {
    let m = model_arg::open_with_cache(&a.model, a.kv_cache, a.load)?;
    let mut params = a.sampling.resolve(&m.generation)?;
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
    let context = m.model.info().max_positions;
    let context_cut = fit_context(&mut params, ids.len(), context).context("--prompt")?;
    if a.verbose {
        eprintln!("{} · prompt {} tokens · context window {context}", describe(&params), ids.len());
    }
    let max_tokens = params.max_tokens;
    let mut engine = Engine::new(&m);
    if a.ignore_eos {
        engine.eos_ids.clear();
    }
    a.decode.configure(&mut engine);
    let req = GenerationRequest { prompt_ids: ids, params, stop: a.stop.clone(), think_open };
    let mut transcript = Transcript::new(true);
    let json = a.json;
    let (mut done, stats) = engine.generate_requests(&[a.decode.request(&req)], |_, seg| {
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
            "seed": req.params.seed,
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
        let only_cut_by_context = context_cut && c.completion_tokens >= max_tokens;
        print_dim(&stats_line(&c, &stats, &finish_words(&c, max_tokens, only_cut_by_context, !a.stop.is_empty())));
    }
    Ok(())
}
