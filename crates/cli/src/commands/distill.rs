//! `reasoner distill --teacher PATH --tasks add,mul --n N --out DATA.jsonl`: rejection-sampled
//! traces from a teacher, kept only when graded correct, as an SFT dataset; prints the
//! acceptance rate per task.

use crate::model_arg;
use crate::sampling_args::SamplingArgs;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use reasoner_tasks::{GenOptions, PromptConfig, RewardConfig, generate_named};
use reasoner_train::distill::{DistillOptions, distill};
use std::path::PathBuf;

#[derive(Args)]
pub struct DistillArgs {
    /// The teacher: a Hugging Face directory or a .gguf file.
    #[arg(long, allow_hyphen_values = true)]
    pub teacher: PathBuf,
    /// Generated tasks to draw problems from, comma-separated (add, sub, mul, linear, countdown).
    #[arg(long, value_delimiter = ',', required = true)]
    pub tasks: Vec<String>,
    /// Problems per task.
    #[arg(long, default_value_t = 100)]
    pub n: usize,
    /// Difficulty of the generated problems, 1 to 5.
    #[arg(long, default_value_t = 2)]
    pub difficulty: u8,
    /// Seed of the problem set (pick one that the evaluation sets do not use).
    #[arg(long, default_value_t = 1_000_003)]
    pub problem_seed: u64,
    /// Samples per problem.
    #[arg(long, default_value_t = 4)]
    pub samples: usize,
    /// Correct traces kept per problem.
    #[arg(long, default_value_t = 1)]
    pub keep_per_problem: usize,
    /// Problems per engine batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Output JSONL ({"messages": [...]} per kept trace).
    #[arg(long, allow_hyphen_values = true)]
    pub out: PathBuf,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub compute: crate::compute_args::ComputeArgs,
}

pub fn run(a: DistillArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| distill_traces(a))
}

fn distill_traces(a: DistillArgs) -> Result<()> {
    let teacher = model_arg::open(&Some(a.teacher.clone()))?;
    let params = a.sampling.resolve(&teacher.generation)?;
    let mut problems = Vec::new();
    for t in &a.tasks {
        let opts = GenOptions { seed: a.problem_seed, difficulty: a.difficulty, digits: None };
        problems.extend(generate_named(t, a.n, &opts).with_context(|| format!("--tasks {t}"))?);
    }
    let opts = DistillOptions {
        samples: a.samples.max(1),
        params,
        batch: a.batch.max(1),
        keep_per_problem: a.keep_per_problem.max(1),
        prompt: PromptConfig::default(),
        reward: RewardConfig::default(),
    };
    let batches = problems.len().div_ceil(opts.batch);
    let bar = ProgressBar::new(batches as u64);
    let stats = distill(&teacher, &problems, &opts, &a.out, |b| bar.set_position(b as u64))?;
    bar.finish_and_clear();
    let (mut kept, mut sampled) = (0, 0);
    for (task, s) in &stats {
        println!(
            "{task:<10} sampled {:>5}  correct {:>5} ({:>5.1}%)  kept {:>5}",
            s.sampled,
            s.accepted,
            100.0 * s.accepted as f64 / s.sampled.max(1) as f64,
            s.kept
        );
        kept += s.kept;
        sampled += s.sampled;
    }
    println!("{kept} traces from {sampled} samples written to {}", a.out.display());
    Ok(())
}
