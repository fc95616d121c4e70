//! What a caller hands the step engine and what it gets back: a request with its own sampling
//! parameters, seed, stop strings and thinking budget, and the events each step produces for it.

use crate::generation::{Completion, GenerationRequest};
use crate::reasoning::Segment;
use crate::sampler::SamplingParams;
use serde::Serialize;

pub type RequestId = u64;

/// One request to the step engine. `GenerationRequest` converts into it with every extra option
/// off, so the batch API and the step API generate the same tokens.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt_ids: Vec<u32>,
    pub params: SamplingParams,
    pub stop: Vec<String>,
    /// The prompt ends inside `<think>`: what the model writes first is reasoning.
    pub think_open: bool,
    /// Thinking tokens allowed before the engine closes the block itself (`</think>`) and lets
    /// the model answer. `None`: no limit.
    pub thinking_budget: Option<usize>,
    /// Keep going past end-of-sequence tokens until `max_tokens` (benchmarks).
    pub ignore_eos: bool,
    /// Report each sampled token's log-probability and this many alternatives (0: just its own).
    pub logprobs: Option<usize>,
    /// Treat all output as plain text: no `<think>` parsing (the text-completion endpoint).
    pub raw: bool,
}

impl From<GenerationRequest> for Request {
    fn from(r: GenerationRequest) -> Self {
        Self {
            prompt_ids: r.prompt_ids,
            params: r.params,
            stop: r.stop,
            think_open: r.think_open,
            thinking_budget: None,
            ignore_eos: false,
            logprobs: None,
            raw: false,
        }
    }
}

/// A sampled token's log-probability under the model (raw logits, before any sampling
/// transform, as OpenAI reports them) and the most likely alternatives.
#[derive(Debug, Clone, Serialize)]
pub struct TokenLogprob {
    pub token: u32,
    pub logprob: f32,
    pub top: Vec<(u32, f32)>,
}

/// A request that is done: its completion, the raw text (reasoning, tags and answer as the
/// model wrote them, after stop strings), and how much of its prompt the prefix cache served.
#[derive(Debug, Clone)]
pub struct Finished {
    pub completion: Completion,
    pub text: String,
    pub cached_tokens: usize,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// Text of the reasoning or the answer, in order.
    Segment {
        id: RequestId,
        segment: Segment,
    },
    /// A token was added to the output (sampled, or forced to close a spent thinking budget).
    Token {
        id: RequestId,
        token: u32,
        logprob: Option<TokenLogprob>,
    },
    Finished {
        id: RequestId,
        output: Box<Finished>,
    },
}

impl Event {
    pub fn id(&self) -> RequestId {
        match self {
            Event::Segment { id, .. } | Event::Token { id, .. } | Event::Finished { id, .. } => *id,
        }
    }
}
