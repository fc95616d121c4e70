//! reasoner-engine: sampling, stop rules, the reasoning parser, incremental detokenization and
//! batched generation over the models of `reasoner-model`.

pub mod detokenize;
pub mod generation;
pub mod prompt;
pub mod reasoning;
pub mod sampler;
pub mod scoring;
pub mod speculative;
pub mod stop;

pub use generation::{Completion, Engine, GenerationRequest, GenerationStats};
pub use reasoning::{ReasoningParser, Segment};
pub use sampler::{Sampler, SamplingParams};
pub use speculative::{generate_speculative, SpecStats};
