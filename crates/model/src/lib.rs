//! reasoner-model: configs, tokenizer and chat template, weight formats, and one file per
//! architecture with its forward pass.

pub mod causal_lm;
pub mod bpe_train;
pub mod chat_template;
pub mod compact_bpe;
pub mod config;
pub mod error;
pub mod gguf;
pub mod gguf_arch;
pub mod gguf_source;
pub mod huge_pages;
pub mod layers;
pub mod loader;
pub mod models;
pub mod named_tensors;
pub mod parallel;
pub mod quant;
pub mod quantize;
pub mod tokenizer;
pub mod weights;

pub use causal_lm::{forward_chunked, CausalLm, LogitsFor, ModelInfo, SeqInput, PREFILL_CHUNK};
pub use error::{ModelError, Result};
pub use layers::kv_cache::{KvDtype, SequenceCache};
pub use loader::{load_model, load_model_with_weights, LoadedModel};
