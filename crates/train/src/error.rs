//! Errors of the trainer. Each names the file, config key, line or step at fault: the reader
//! has a config, a dataset and a run directory and needs to know which one to fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    DataLine { path: PathBuf, line: usize, message: String },
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("step {step}: the loss is {value}; training stopped. {kept}")]
    NonFiniteLoss { step: usize, value: f32, kept: String },
    #[error("{0}")]
    Model(#[from] reasoner_model::ModelError),
    #[error("{0}")]
    Engine(#[from] reasoner_engine::EngineError),
    #[error("tensor op: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
    #[error("{}: already holds a run (metrics.jsonl or checkpoints/)", dir.display())]
    RunExists { dir: PathBuf },
    #[error("no stage `{stage}` (stages: {})", stages.join(", "))]
    UnknownStage { stage: String, stages: Vec<String> },
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, TrainError>;

impl TrainError {
    pub fn io(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        TrainError::Io { path: path.into(), message: err.to_string() }
    }
}
