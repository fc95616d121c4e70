//! Errors of the model crate. Every variant names the file, key or tensor at fault, because the
//! person reading the message has a directory of files and needs to know which one is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model path {path} does not exist")]
    MissingPath { path: PathBuf },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: invalid JSON: {message}")]
    Json { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    ConfigKey { path: PathBuf, key: String, message: String },
    #[error("{path}: unsupported architecture `{arch}` (supported: {supported})")]
    UnknownArchitecture { path: PathBuf, arch: String, supported: String },
    #[error("{file}: tensor `{tensor}`: {message}")]
    Tensor { file: String, tensor: String, message: String },
    #[error("tensor `{tensor}` not found in {source_name}")]
    MissingTensor { tensor: String, source_name: String },
    #[error("tensor `{tensor}` has shape {found:?}, expected {expected:?} ({source_name})")]
    ShapeMismatch { tensor: String, found: Vec<usize>, expected: Vec<usize>, source_name: String },
    #[error("{path}: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("chat template ({origin}): {message}")]
    Template { origin: String, message: String },
    #[error("token id {id} is out of range for vocabulary size {vocab_size}")]
    TokenOutOfRange { id: u32, vocab_size: usize },
    #[error("{0}")]
    Invalid(String),
    #[error("tensor op: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

impl ModelError {
    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        ModelError::Io { path: path.into(), message: err.to_string() }
    }
    pub fn key(path: impl Into<PathBuf>, key: &str, message: impl Into<String>) -> Self {
        ModelError::ConfigKey { path: path.into(), key: key.to_string(), message: message.into() }
    }
}
