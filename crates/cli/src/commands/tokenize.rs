//! `reasoner tokenize` and `reasoner detokenize`: a model's tokenizer on its own, with no weights
//! run. `tokenize --text` gives exactly the ids `logprobs --text` scores (special tokens added).

use crate::commands::logprobs::parse_ids;
use crate::model_arg;
use anyhow::{Context, Result, bail};
use clap::Args;
use reasoner_model::LoadedModel;
use reasoner_model::tokenizer::TextTokenizer;
use std::path::PathBuf;

#[derive(Args)]
pub struct TokenizeArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    /// The text to tokenize.
    #[arg(long, required_unless_present = "file", conflicts_with = "file")]
    pub text: Option<String>,
    /// Tokenize the contents of this file (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Leave out the special tokens the tokenizer adds (BOS), as for a rendered chat prompt.
    #[arg(long)]
    pub no_special: bool,
    /// Print {"ids": [...], "tokens": [...]} instead of one `id<TAB>token` line per token.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DetokenizeArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    /// Comma-separated token ids, e.g. 1,2,3.
    #[arg(long)]
    pub ids: String,
    /// Drop special tokens (BOS, EOS, chat markers) from the text.
    #[arg(long)]
    pub skip_special: bool,
}

/// The model's tokenizer, loaded as every other command loads it (so ids agree with theirs).
fn tokenizer(m: &LoadedModel) -> Result<&TextTokenizer> {
    m.tokenizer.as_ref().with_context(|| format!("{}: the model has no tokenizer (tokenizer.json)", m.path.display()))
}

/// Each token's own text; a piece of a multi-byte character shows as U+FFFD, as in llama.cpp.
pub fn token_texts(tok: &TextTokenizer, ids: &[u32]) -> Result<Vec<String>> {
    ids.iter().map(|&id| Ok(tok.decode(&[id], false)?)).collect()
}

pub fn run_tokenize(a: TokenizeArgs) -> Result<()> {
    let text = match (&a.text, &a.file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) if f.as_os_str() == "-" => {
            std::io::read_to_string(std::io::stdin()).context("--file -: reading stdin")?
        }
        (None, Some(f)) => std::fs::read_to_string(f).with_context(|| format!("--file {}", f.display()))?,
        (None, None) => bail!("give --text TEXT or --file FILE"),
    };
    let m = model_arg::open(&a.model)?;
    let tok = tokenizer(&m)?;
    let ids = tok.encode(&text, !a.no_special)?;
    let tokens = token_texts(tok, &ids)?;
    if a.json {
        println!("{}", serde_json::json!({ "ids": ids, "tokens": tokens }));
    } else {
        for (id, t) in ids.iter().zip(&tokens) {
            println!("{id}\t{}", t.escape_debug());
        }
        eprintln!("{} tokens", ids.len());
    }
    Ok(())
}

pub fn run_detokenize(a: DetokenizeArgs) -> Result<()> {
    let ids = parse_ids(&a.ids)?;
    let m = model_arg::open(&a.model)?;
    let tok = tokenizer(&m)?;
    let vocab = m.model.info().vocab_size.max(tok.vocab_size());
    if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
        bail!("--ids: token id {bad} is out of range for {} (vocabulary of {vocab})", m.path.display());
    }
    println!("{}", tok.decode(&ids, a.skip_special)?);
    Ok(())
}
