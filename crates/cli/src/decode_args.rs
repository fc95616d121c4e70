//! `--thinking-budget` and `--speculative`: how `chat` and `generate` decode, beside the
//! sampling flags. `serve` takes the same two per request (`thinking_budget_tokens`) and per
//! server (`--speculative`).

use clap::Args;
use reasoner_engine::{Engine, GenerationRequest, Request};

#[derive(Args, Clone, Copy, Debug)]
pub struct DecodeArgs {
    /// Thinking tokens allowed; when they are spent, `</think>` is written for the model and it
    /// answers (as the server's `thinking_budget_tokens`) [default: no limit]
    #[arg(long, value_name = "N")]
    pub thinking_budget: Option<usize>,
    /// Multi-token-prediction speculative decoding: the checkpoint's MTP module drafts a token,
    /// the model checks it in the same step (DeepSeek-V3/R1 checkpoints that ship the module).
    /// Not with --thinking-budget or --ignore-eos.
    #[arg(long, conflicts_with = "thinking_budget")]
    pub speculative: bool,
}

impl DecodeArgs {
    /// The step-engine request for `req` with these options.
    pub fn request(&self, req: &GenerationRequest) -> Request {
        let mut r = Request::from(req.clone());
        r.thinking_budget = self.thinking_budget;
        r
    }

    pub fn configure(&self, engine: &mut Engine<'_>) {
        engine.speculative = self.speculative;
    }
}
