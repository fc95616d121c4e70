//! reasoner-model: configs, weight formats, tokenizer and chat template, quantized blocks and
//! the CPU kernels that multiply them, shared layers, and one file per architecture with its
//! forward pass. The folders follow a weight's path: `formats` reads it, `quant` holds it in
//! its stored blocks, `kernels` multiplies with it, `layers` and `models` use it. ARCHITECTURE.md
//! at the repository root has the map.

pub mod causal_lm;
pub mod config;
pub mod cpu;
pub mod error;
pub mod formats;
pub mod kernels;
pub mod layers;
pub mod loader;
pub mod models;
pub mod quant;
pub mod text;

pub use causal_lm::{CausalLm, LogitsFor, ModelInfo, PREFILL_CHUNK, SeqInput, forward_chunked, token_logprobs};
pub use error::{ModelError, Result};
pub use formats::loading::{LoadOptions, TensorPath, summarize_paths};
pub use layers::kv_cache::{KvDtype, SequenceCache};
pub use loader::{LoadedModel, load_model, load_model_with, load_model_with_weights};

// Paths from before the folders (issue #25), kept while branches that import them are merged;
// new code uses the paths above.
pub use formats::named_tensors;
pub use text::{bpe_train, chat_template, tokenizer};
/// Old path of `formats::weights` and `formats::safetensors::SafetensorsDir`.
pub mod weights {
    pub use crate::formats::safetensors::SafetensorsDir;
    pub use crate::formats::weights::*;
}
