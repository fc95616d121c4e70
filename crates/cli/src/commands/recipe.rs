//! `reasoner recipe tiny-r1 [--out DIR]`: the whole tiny-r1 recipe, resumable stage by stage.

use anyhow::{Result, bail};
use clap::Args;
use reasoner_train::TrainError;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct RecipeArgs {
    /// The recipe to run (only `tiny-r1` exists).
    pub name: String,
    /// Where its data, stage runs, results.md and plots go.
    #[arg(long, allow_hyphen_values = true, default_value = "runs/tiny-r1")]
    pub out: PathBuf,
    /// The directory holding recipe.toml and the stage configs.
    #[arg(long, allow_hyphen_values = true, default_value = "recipes/tiny-r1")]
    pub recipe_dir: PathBuf,
    /// Stop after this stage (data, tokenizer, pretrain, sft, grpo, distill-data,
    /// student-pretrain, student-distill, student-sft, student-rl, eval).
    #[arg(long)]
    pub stop_after: Option<String>,
    #[command(flatten)]
    pub threads: crate::compute_args::ThreadsArg,
}

pub fn run(a: RecipeArgs) -> Result<()> {
    let threads = a.threads;
    threads.install_training(|| recipe(a))
}

fn recipe(a: RecipeArgs) -> Result<()> {
    if a.name != "tiny-r1" {
        bail!("unknown recipe `{}` (known: tiny-r1)", a.name);
    }
    let t = std::time::Instant::now();
    let report = reasoner_train::recipe::run_recipe(
        &a.recipe_dir,
        &a.out,
        std::io::stderr().is_terminal(),
        a.stop_after.as_deref(),
    )
    .map_err(|e| match e {
        TrainError::UnknownStage { .. } => anyhow::anyhow!("--stop-after: {e}"),
        e => e.into(),
    })?;
    eprintln!("recipe ran for {:.0} s", t.elapsed().as_secs_f64());
    if let Some(report) = report {
        print!("{}", std::fs::read_to_string(&report)?);
    }
    Ok(())
}
