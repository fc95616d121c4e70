//! `reasoner grade --gold TEXT (--response TEXT | --response - | --response-file F) [--task NAME]
//! [--json]`: prints `true` or `false` (with --json, the extracted answer and why) and exits 0 for a
//! correct answer, 1 for a wrong one, 2 for an error, so scripts can branch on it.
//! For --task countdown the gold is `{"numbers": [...], "target": N}`.

use crate::Exit;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct GradeArgs {
    /// The gold answer.
    #[arg(long)]
    pub gold: String,
    /// The response to grade; `-` reads it from stdin.
    #[arg(long, required_unless_present = "response_file", conflicts_with = "response_file")]
    pub response: Option<String>,
    /// Read the response from this file.
    #[arg(long, value_name = "FILE")]
    pub response_file: Option<PathBuf>,
    /// Task whose grading rules apply (e.g. countdown); default: math answer comparison.
    #[arg(long)]
    pub task: Option<String>,
    /// Print the extracted answer and the reason as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: GradeArgs) -> Result<()> {
    // Any failure here is exit status 2: 1 means "graded, and wrong".
    let correct = grade(&a).map_err(|e| Exit { code: 2, message: Some(format!("{e:#}")) })?;
    if correct { Ok(()) } else { Err(Exit { code: 1, message: None }.into()) }
}

fn grade(a: &GradeArgs) -> Result<bool> {
    let response = match (&a.response, &a.response_file) {
        (Some(r), _) if r == "-" => std::io::read_to_string(std::io::stdin()).context("--response -: reading stdin")?,
        (Some(r), _) => r.clone(),
        (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("--response-file {}", f.display()))?,
        (None, None) => anyhow::bail!("give --response TEXT, --response - (stdin) or --response-file FILE"),
    };
    let outcome = reasoner_tasks::grade_text(&a.gold, &response, a.task.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string(&outcome)?);
    } else {
        println!("{}", outcome.correct);
    }
    Ok(outcome.correct)
}
