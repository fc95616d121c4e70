//! reasoner-train: supervised fine-tuning, pretraining and GRPO on the dense architectures the
//! model crate runs, with the same forward pass the golden inference tests check.
//!
//! A run: [`TrainConfig::read`] → [`run_sft`] or [`run_grpo`] (a [`Policy`] of `Var`s, [`AdamW`],
//! crash-safe [`checkpoint`]s, `metrics.jsonl`) → `final/`, a Hugging Face directory every
//! command loads; [`plot_run`] charts the metrics. A training step is a pure function of
//! (parameters, batch) → gradients + metrics ([`Gradients`]), which is where a data-parallel
//! all-reduce will go.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod data_parallel;
pub mod distill;
pub mod error;
pub mod grpo;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod plot;
pub mod policy;
pub mod recipe;
pub mod run;
pub mod sft;

pub use config::{LossType, RunKind, TrainConfig};
pub use error::{Result, TrainError};
pub use grpo::{group_advantages, run_grpo};
pub use optim::{AdamW, Gradients, learning_rate};
pub use plot::plot_run;
pub use policy::Policy;
pub use run::RunSummary;
pub use sft::run_sft;

/// Run the config's kind of training into `dir`.
pub fn train(cfg: TrainConfig, dir: &std::path::Path, resume: bool, show_progress: bool) -> Result<RunSummary> {
    match cfg.kind() {
        RunKind::Sft | RunKind::Pretrain => run_sft(cfg, dir, resume, show_progress),
        RunKind::Grpo => run_grpo(cfg, dir, resume, show_progress),
    }
}
