//! `reasoner grade --gold TEXT --response TEXT [--task NAME] [--json]`: prints `true` or `false`
//! (with --json, the extracted answer and why). For --task countdown the gold is
//! `{"numbers": [...], "target": N}`.

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct GradeArgs {
    #[arg(long)]
    pub gold: String,
    #[arg(long)]
    pub response: String,
    /// Task whose grading rules apply (e.g. countdown); default: math answer comparison.
    #[arg(long)]
    pub task: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: GradeArgs) -> Result<()> {
    let outcome = reasoner_tasks::grade_text(&a.gold, &a.response, a.task.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        println!("{}", outcome.correct);
    }
    Ok(())
}
