//! `reasoner logprobs --model PATH (--ids 1,2,3 | --text TEXT)`: one JSON object
//! {"tokens": [...], "logprobs": [...]}, logprobs[i] = ln p(tokens[i+1] | tokens[..=i]).

use crate::model_arg;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct LogprobsArgs {
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Comma-separated token ids.
    #[arg(long, conflicts_with = "text")]
    pub ids: Option<String>,
    /// Text, tokenized as transformers' tokenizer(text) does (special tokens added).
    #[arg(long)]
    pub text: Option<String>,
}

pub fn parse_ids(s: &str) -> Result<Vec<u32>> {
    s.split(',')
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().with_context(|| format!("--ids: `{p}` is not a token id (expected e.g. 1,2,3)")))
        .collect()
}

pub fn run(a: LogprobsArgs) -> Result<()> {
    let ids = match (&a.ids, &a.text) {
        (Some(s), None) => parse_ids(s)?,
        (None, Some(_)) | (Some(_), Some(_)) => Vec::new(),
        (None, None) => bail!("give --ids 1,2,3 or --text TEXT"),
    };
    let m = model_arg::open(&a.model)?;
    let ids = match &a.text {
        Some(t) => m
            .tokenizer
            .as_ref()
            .with_context(|| format!("--text needs {}/tokenizer.json", m.path.display()))?
            .encode(t, true)?,
        None => ids,
    };
    if ids.len() < 2 {
        bail!("need at least two tokens to score, got {}", ids.len());
    }
    let logprobs = reasoner_engine::scoring::token_logprobs(m.model.as_ref(), &ids)?;
    println!("{}", serde_json::json!({ "tokens": ids, "logprobs": logprobs }));
    Ok(())
}
