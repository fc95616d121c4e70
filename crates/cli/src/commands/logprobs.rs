//! `reasoner logprobs --model PATH (--ids 1,2,3 | --text TEXT)`: one JSON object
//! {"tokens": [...], "logprobs": [...]}, logprobs[i] = ln p(tokens[i+1] | tokens[..=i]), with each
//! token's text, the sum and the perplexity beside them (`--table` for a table to read).

use crate::commands::tokenize::token_texts;
use crate::compute_args::ComputeArgs;
use crate::model_arg;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct LogprobsArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    /// Comma-separated token ids.
    #[arg(long, conflicts_with = "text")]
    pub ids: Option<String>,
    /// Text, tokenized as transformers' tokenizer(text) does (special tokens added).
    #[arg(long)]
    pub text: Option<String>,
    /// A table (token, its text, log-probability) and the totals instead of JSON.
    #[arg(long)]
    pub table: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

pub fn parse_ids(s: &str) -> Result<Vec<u32>> {
    s.split(',')
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().with_context(|| format!("--ids: `{p}` is not a token id (expected e.g. 1,2,3)")))
        .collect()
}

pub fn run(a: LogprobsArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| score(a))
}

fn score(a: LogprobsArgs) -> Result<()> {
    let ids = match (&a.ids, &a.text) {
        (Some(s), None) => parse_ids(s)?,
        (None, Some(_)) | (Some(_), Some(_)) => Vec::new(),
        (None, None) => bail!("give --ids 1,2,3 or --text TEXT"),
    };
    let m = model_arg::open_with(&a.model, a.load)?;
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
    let (vocab, context) = (m.model.info().vocab_size, m.model.info().max_positions);
    if ids.len() > context {
        let what = if a.text.is_some() { "--text" } else { "--ids" };
        bail!("{what}: {} tokens, but {} has a context window of {context}", ids.len(), m.path.display());
    }
    if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
        bail!("--ids: token id {bad} is out of range for {} (vocabulary of {vocab})", m.path.display());
    }
    let logprobs = reasoner_model::token_logprobs(m.model.as_ref(), &ids)?;
    let texts = match &m.tokenizer {
        Some(tok) => Some(token_texts(tok, &ids)?),
        None => None,
    };
    // Summed in f64: thousands of f32 terms lose digits otherwise.
    let sum: f64 = logprobs.iter().map(|&l| l as f64).sum();
    let perplexity = (-sum / logprobs.len() as f64).exp();
    if a.table {
        println!("{:>6}  {:>10}  {:>12}  text", "pos", "token", "logprob");
        for (i, id) in ids.iter().enumerate() {
            let lp = if i == 0 { "-".to_string() } else { format!("{:.4}", logprobs[i - 1]) };
            let text = texts.as_ref().map_or_else(String::new, |t| format!("{:?}", t[i]));
            println!("{i:>6}  {id:>10}  {lp:>12}  {text}");
        }
        println!("sum {sum:.4} over {} predicted tokens, perplexity {perplexity:.3}", logprobs.len());
        return Ok(());
    }
    println!(
        "{}",
        serde_json::json!({
            "tokens": ids,
            "logprobs": logprobs,
            "token_text": texts,
            "sum_logprob": sum,
            "perplexity": perplexity,
        })
    );
    Ok(())
}
