//! `reasoner train sft|pretrain|grpo --config FILE.toml [--out RUN_DIR] [--resume]` and
//! `reasoner plot RUN_DIR`: thin wrappers over the trainer crate.

use anyhow::Result;
use clap::{Args, ValueEnum};
use reasoner_train::{RunKind, TrainConfig, TrainError};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Supervised fine-tuning: loss on the response only.
    Sft,
    /// Plain next-token training on every token of a text corpus.
    Pretrain,
    /// GRPO with the tasks crate's rule-based rewards.
    Grpo,
}

#[derive(Args)]
pub struct TrainArgs {
    #[arg(value_enum)]
    pub mode: Mode,
    /// The run's TOML config (see recipes/).
    #[arg(long, allow_hyphen_values = true)]
    pub config: PathBuf,
    /// Run directory (overrides the config's `out`).
    #[arg(long, allow_hyphen_values = true)]
    pub out: Option<PathBuf>,
    /// Continue from the newest complete checkpoint in the run directory.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar (it is shown only on a terminal anyway).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub threads: crate::compute_args::ThreadsArg,
}

pub fn run(a: TrainArgs) -> Result<()> {
    let threads = a.threads;
    threads.install_training(|| train(a))
}

fn train(a: TrainArgs) -> Result<()> {
    let mut cfg = TrainConfig::read(&a.config)?;
    let kind = match a.mode {
        Mode::Sft => RunKind::Sft,
        Mode::Pretrain => RunKind::Pretrain,
        Mode::Grpo => RunKind::Grpo,
    };
    cfg.set_kind(kind, &a.config)?;
    let dir = a.out.clone().unwrap_or_else(|| cfg.out.clone());
    let progress = !a.quiet && std::io::stderr().is_terminal();
    let t = std::time::Instant::now();
    let summary = reasoner_train::train(cfg, &dir, a.resume, progress).map_err(|e| {
        let hint = if matches!(e, TrainError::RunExists { .. }) {
            "; pass --resume to continue it, or choose another --out"
        } else {
            ""
        };
        anyhow::anyhow!("training run {}: {e}{hint}", dir.display())
    })?;
    if let Some(s) = summary.resumed_from {
        eprintln!("resumed from step {s}");
    }
    eprintln!(
        "{} steps in {:.1} s; metrics in {}, model in {}",
        summary.steps,
        t.elapsed().as_secs_f64(),
        dir.join("metrics.jsonl").display(),
        summary.final_dir.display()
    );
    Ok(())
}

#[derive(Args)]
pub struct PlotArgs {
    /// A training run directory (holding metrics.jsonl).
    #[arg(allow_hyphen_values = true)]
    pub run_dir: PathBuf,
    /// Only these metrics, comma-separated (default: every numeric one).
    #[arg(long, value_delimiter = ',')]
    pub metrics: Vec<String>,
    /// Where to write the PNGs (default RUN_DIR/plots).
    #[arg(long, allow_hyphen_values = true)]
    pub out: Option<PathBuf>,
}

pub fn plot(a: PlotArgs) -> Result<()> {
    let files = reasoner_train::plot_run(&a.run_dir, &a.metrics, a.out.as_deref())?;
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}
