//! Errors of the engine as typed values. Each names the field or file at fault in the terms of
//! the request or the model directory, never a command-line flag: the same engine serves the CLI,
//! the HTTP server and the trainer, and each front end words its own advice.

use reasoner_model::ModelError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A sampling parameter or request option out of range; `field` is its request name.
    #[error("{field}: {message}")]
    InvalidParam { field: &'static str, message: String },
    #[error("empty prompt: a request needs at least one prompt token")]
    EmptyPrompt,
    #[error("prompt token id {id} is out of range for vocabulary size {vocab_size}")]
    TokenOutOfRange { id: u32, vocab_size: usize },
    /// The prompt leaves no room for even one new token in the model's context.
    #[error("prompt of {tokens} tokens does not fit the model's context of {limit} positions")]
    PromptTooLong { tokens: usize, limit: usize },
    /// Even alone the request needs more KV cache than the whole budget.
    #[error("request needs {needed} bytes of KV cache, more than the budget of {budget} bytes")]
    KvBudget { needed: usize, budget: usize },
    #[error("{path}: no tokenizer.json, so text cannot be encoded or decoded")]
    NoTokenizer { path: PathBuf },
    #[error(
        "{path}: no chat template (tokenizer_config.json `chat_template` or chat_template.jinja); feed the prompt as raw text instead"
    )]
    NoChatTemplate { path: PathBuf },
    #[error("{path}: the checkpoint has no MTP module (num_nextn_predict_layers); speculative decoding needs one")]
    NoMtp { path: PathBuf },
    #[error("unknown request id {0}")]
    UnknownRequest(u64),
    /// The engine's thread or loop is gone (a server shutting down); nothing more will run.
    #[error("the engine has stopped")]
    Stopped,
    #[error("logits are not on the CPU")]
    LogitsNotOnCpu,
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl From<candle_core::Error> for EngineError {
    fn from(e: candle_core::Error) -> Self {
        EngineError::Model(ModelError::Candle(e))
    }
}

/// Callers whose own functions return the model crate's `Result` can keep using `?`.
impl From<EngineError> for ModelError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Model(m) => m,
            other => ModelError::Invalid(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
