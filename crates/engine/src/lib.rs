//! reasoner-engine: sampling, stop rules, the reasoning parser, incremental detokenization, and
//! the step-driven engine (continuous batching, prefix cache, KV budget) with the batch
//! `Engine::generate` on top of it.

pub mod detokenize;
pub mod error;
pub mod generation;
pub mod prefix_cache;
pub mod prompt;
pub mod reasoning;
pub mod request;
pub mod sampler;
pub mod scheduler;
mod sequence;
pub mod speculative;
pub mod stop;

pub use error::EngineError;
pub use generation::{Completion, Engine, GenerationRequest, GenerationStats};
pub use prompt::chat_prompt;
pub use reasoning::{ReasoningParser, Segment};
pub use request::{Event, Finished, Request, RequestId, TokenLogprob};
pub use sampler::{Sampler, SamplingParams};
pub use scheduler::{EngineConfig, EngineStatus, StepEngine};
pub use speculative::{SpecStats, generate_speculative};
