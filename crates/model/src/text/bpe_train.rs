//! Training a small byte-level BPE tokenizer with the `tokenizers` crate's trainer, for models
//! made from nothing: every digit is its own token, R1's chat markers and `<think>` tags are
//! added tokens, and the output is a tokenizer.json + tokenizer_config.json our loader reads.

use crate::error::{ModelError, Result};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, TokenizerBuilder,
    TokenizerImpl,
};

pub const BOS: &str = "<｜begin▁of▁sentence｜>";
pub const EOS: &str = "<｜end▁of▁sentence｜>";
pub const USER: &str = "<｜User｜>";
pub const ASSISTANT: &str = "<｜Assistant｜>";
pub const THINK_OPEN: &str = "<think>";
pub const THINK_CLOSE: &str = "</think>";

/// The added tokens, in id order (0, 1, …): BOS and EOS take ids 0 and 1 as in DeepSeek's vocab.
pub const SPECIAL_TOKENS: [&str; 6] = [BOS, EOS, USER, ASSISTANT, THINK_OPEN, THINK_CLOSE];

/// Smallest vocabulary accepted: the added tokens, the 256 byte symbols and a few merges.
pub const MIN_VOCAB: usize = 300;

/// DeepSeek-R1's chat template without the tool-call branches: no system prompt unless one is
/// given, earlier assistant turns lose their thinking, and the generation prompt opens `<think>\n`.
pub const R1_CHAT_TEMPLATE: &str = "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{%- endif %}{%- if message['role'] == 'assistant' %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{%- endif %}{%- endfor -%}{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}";

/// What [`train_tokenizer`] wrote.
#[derive(Debug, Clone)]
pub struct TrainedTokenizer {
    pub tokenizer_json: PathBuf,
    pub config_json: PathBuf,
    /// Tokens in the vocabulary, added tokens included.
    pub vocab_size: usize,
}

type Impl = TokenizerImpl<BPE, NormalizerWrapper, PreTokenizerWrapper, PostProcessorWrapper, DecoderWrapper>;

/// The texts of one corpus file: plain text line by line, or for `.jsonl` every string value of
/// each record (chat message contents, prompts, answers), so SFT files can be used as they are.
fn corpus_texts(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    if path.extension().is_none_or(|e| e != "jsonl") {
        return Ok(text.split_inclusive('\n').map(str::to_string).collect());
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .map_err(|e| ModelError::Json { path: path.to_path_buf(), message: format!("line {}: {e}", i + 1) })?;
        collect_strings(&value, &mut out);
    }
    Ok(out)
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(map) => map.iter().filter(|(k, _)| *k != "role").for_each(|(_, x)| collect_strings(x, out)),
        _ => {}
    }
}

/// Trains on `corpus_files` (plain text, or `.jsonl` whose string values are used) and writes
/// `tokenizer.json` and `tokenizer_config.json` into `out_dir`.
pub fn train_tokenizer(corpus_files: &[PathBuf], vocab_size: usize, out_dir: &Path) -> Result<TrainedTokenizer> {
    let mut texts = Vec::new();
    for f in corpus_files {
        texts.extend(corpus_texts(f)?);
    }
    train_tokenizer_from_texts(texts, vocab_size, out_dir)
}

/// [`train_tokenizer`] over texts already in memory.
pub fn train_tokenizer_from_texts(texts: Vec<String>, vocab_size: usize, out_dir: &Path) -> Result<TrainedTokenizer> {
    if vocab_size < MIN_VOCAB {
        return Err(ModelError::Invalid(format!("vocab_size {vocab_size} is too small; use at least {MIN_VOCAB}")));
    }
    if texts.iter().all(|t| t.trim().is_empty()) {
        return Err(ModelError::Invalid("the tokenizer corpus is empty".into()));
    }
    let tok_path = out_dir.join("tokenizer.json");
    let fail = |e: tokenizers::Error| ModelError::Tokenizer { path: tok_path.clone(), message: e.to_string() };
    // Digits first, each on its own; then every other run of text is one pre-token, so merges
    // may span spaces and newlines (", carry ", "\ntens: ") and the traces stay short.
    let pre = Sequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, false).into()]);
    let mut tk: Impl = TokenizerBuilder::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(pre.into()))
        .with_post_processor(None)
        .with_decoder(Some(ByteLevel::default().into()))
        .build()
        .map_err(fail)?;
    let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)).collect();
    let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab_size)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(alphabet)
        .build();
    tk.train(&mut trainer, texts.into_iter()).map_err(fail)?;
    let bos_id = tk.token_to_id(BOS).ok_or_else(|| ModelError::Invalid("BOS missing after training".into()))?;
    let post = TemplateProcessing::builder()
        .try_single(format!("{BOS} $A"))
        .and_then(|b| b.try_pair(format!("{BOS} $A {BOS} $B")))
        .map_err(|e| ModelError::Invalid(e.to_string()))?
        .special_tokens(vec![(BOS.to_string(), bos_id)])
        .build()
        .map_err(|e| ModelError::Invalid(e.to_string()))?;
    tk.with_post_processor(Some(post));

    std::fs::create_dir_all(out_dir).map_err(|e| ModelError::io(out_dir, e))?;
    let mut value: Value = serde_json::from_str(&tk.to_string(true).map_err(fail)?)
        .map_err(|e| ModelError::Json { path: tok_path.clone(), message: e.to_string() })?;
    // As in R1's tokenizer, the think tags are added but not special: decoding keeps them.
    if let Some(added) = value.get_mut("added_tokens").and_then(Value::as_array_mut) {
        for t in added {
            if matches!(t.get("content").and_then(Value::as_str), Some(THINK_OPEN | THINK_CLOSE)) {
                t["special"] = Value::Bool(false);
            }
        }
    }
    write_json(&tok_path, &value)?;
    let config_json = out_dir.join("tokenizer_config.json");
    write_json(&config_json, &tokenizer_config())?;
    let check = tokenizers::Tokenizer::from_file(&tok_path).map_err(fail)?;
    Ok(TrainedTokenizer { tokenizer_json: tok_path, config_json, vocab_size: check.get_vocab_size(true) })
}

fn added_token(content: &str) -> Value {
    json!({"__type": "AddedToken", "content": content, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true})
}

/// tokenizer_config.json as DeepSeek-R1 writes it (BOS/EOS as AddedToken objects, BOS added
/// to raw text, EOS also the padding token), with [`R1_CHAT_TEMPLATE`].
pub fn tokenizer_config() -> Value {
    json!({
        "add_bos_token": true,
        "add_eos_token": false,
        "bos_token": added_token(BOS),
        "eos_token": added_token(EOS),
        "pad_token": added_token(EOS),
        "clean_up_tokenization_spaces": false,
        "legacy": true,
        "model_max_length": 16384,
        "tokenizer_class": "LlamaTokenizerFast",
        "chat_template": R1_CHAT_TEMPLATE,
    })
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ModelError::io(path, e))?;
    std::fs::write(path, text + "\n").map_err(|e| ModelError::io(path, e))
}
