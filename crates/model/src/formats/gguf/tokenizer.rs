//! tokenizer.json ↔ GGUF `tokenizer.ggml.*`: the byte-level BPE vocabulary, merges and
//! pre-tokenizer name written by the quantizer, and the tokenizer rebuilt from them at load.

use super::{MetaArray, MetaValue, Metadata};
use crate::error::{ModelError, Result};
use crate::text::compact_bpe::CompactBpe;
use crate::text::tokenizer::GgufTokenizer;
use serde_json::{Value, json};
use std::path::Path;

/// Pre-tokenizer regexes by llama.cpp's `tokenizer.ggml.pre` name.
const QWEN2_REGEX: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const DEEPSEEK3_REGEXES: [&str; 3] = [
    r"\p{N}{1,3}",
    "[\u{4e00}-\u{9fa5}\u{3040}-\u{309f}\u{30a0}-\u{30ff}]+",
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
];

fn split(regex: &str) -> Value {
    json!({"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false})
}

/// (normalizer, pre_tokenizer) of a tokenizer.json for a `tokenizer.ggml.pre` name.
fn pre_tokenizer_for(pre: &str) -> Option<(Value, Value)> {
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false});
    Some(match pre {
        // GPT-2's own pre-tokenizer: ByteLevel with its built-in regex, which is llama.cpp's
        // `gpt2` regex ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+).
        "gpt2" => (
            Value::Null,
            json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true}),
        ),
        "qwen2" => {
            (json!({"type": "NFC"}), json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level]}))
        }
        "llama-bpe" | "llama3" => {
            (Value::Null, json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level]}))
        }
        "deepseek-v3" => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [split(DEEPSEEK3_REGEXES[0]), split(DEEPSEEK3_REGEXES[1]), split(DEEPSEEK3_REGEXES[2]), byte_level]}),
        ),
        _ => return None,
    })
}

/// The `tokenizer.ggml.pre` name of a tokenizer.json, recognised by its split regexes.
pub fn pre_name_of(tokenizer_json: &Value) -> Option<&'static str> {
    let pre = &tokenizer_json["pre_tokenizer"];
    if pre["type"] == "ByteLevel" {
        // A plain GPT-2-style ByteLevel splits with its built-in regex (on unless turned off);
        // a prefix space is something llama.cpp's `gpt2` pre-type does not add.
        let regex = pre["use_regex"].as_bool().unwrap_or(true);
        let prefix = pre["add_prefix_space"].as_bool().unwrap_or(true);
        return (regex && !prefix).then_some("gpt2");
    }
    let pres = tokenizer_json["pre_tokenizer"]["pretokenizers"].as_array()?;
    let regexes: Vec<&str> = pres.iter().filter_map(|p| p["pattern"]["Regex"].as_str()).collect();
    match regexes.as_slice() {
        [r] if *r == QWEN2_REGEX => Some("qwen2"),
        [r] if *r == LLAMA3_REGEX => Some("llama-bpe"),
        [a, b, c] if [*a, *b, *c] == DEEPSEEK3_REGEXES => Some("deepseek-v3"),
        _ => None,
    }
}

/// Rebuild a byte-level BPE tokenizer ("gpt2" models) from `tokenizer.ggml.*`: the tokenizers
/// crate's pipeline around our compact BPE model (`compact_bpe`).
pub fn tokenizer_from_metadata(meta: &Metadata, path: &Path) -> Result<GgufTokenizer> {
    let model = meta.get("tokenizer.ggml.model").and_then(|v| v.as_str()).unwrap_or("");
    if model != "gpt2" {
        return Err(ModelError::key(
            path,
            "tokenizer.ggml.model",
            format!("`{model}` is not supported (only byte-level BPE, \"gpt2\")"),
        ));
    }
    let pre = meta.get("tokenizer.ggml.pre").and_then(|v| v.as_str()).unwrap_or("default");
    let (normalizer, pre_tokenizer) = pre_tokenizer_for(pre).ok_or_else(|| {
        ModelError::key(
            path,
            "tokenizer.ggml.pre",
            format!("`{pre}` is not supported (gpt2, qwen2, llama-bpe, deepseek-v3)"),
        )
    })?;
    let tokens = match meta.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()) {
        Some(MetaArray::String(t)) => t,
        _ => return Err(ModelError::key(path, "tokenizer.ggml.tokens", "missing or not a string array")),
    };
    let merges: &[String] = match meta.get("tokenizer.ggml.merges").and_then(|v| v.as_array()) {
        Some(MetaArray::String(m)) => m,
        _ => &[],
    };
    let types: Vec<i64> =
        meta.get("tokenizer.ggml.token_type").and_then(|v| v.as_array()).and_then(|a| a.to_i64s()).unwrap_or_default();
    // Built through the tokenizers API rather than a tokenizer.json text: for a 150k-token
    // vocabulary the JSON tree and text cost ~90 MB of peak memory, more than the rest of start-up.
    let bad = |message: String| ModelError::Tokenizer {
        path: path.to_path_buf(),
        message: format!("rebuilding from GGUF metadata: {message}"),
    };
    let bpe = CompactBpe::new(tokens, merges, pre == "llama-bpe").map_err(bad)?;
    let mut tk = GgufTokenizer::new(bpe);
    if !normalizer.is_null() {
        tk.with_normalizer(Some(tokenizer_part::<tokenizers::NormalizerWrapper>(path, "normalizer", normalizer)?))
            .map_err(|e| bad(e.to_string()))?;
    }
    tk.with_pre_tokenizer(Some(tokenizer_part::<tokenizers::PreTokenizerWrapper>(
        path,
        "pre_tokenizer",
        pre_tokenizer,
    )?));
    let bos = meta.get("tokenizer.ggml.bos_token_id").and_then(|v| v.as_u64());
    let add_bos = meta.get("tokenizer.ggml.add_bos_token").and_then(|v| v.as_bool()).unwrap_or(false);
    let byte_level_post =
        json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true});
    let post = match (add_bos, bos.and_then(|b| tokens.get(b as usize))) {
        (true, Some(bos_text)) => json!({"type": "Sequence", "processors": [byte_level_post, {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos_text, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos_text, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos_text, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos_text.clone(): {"id": bos_text, "ids": [bos], "tokens": [bos_text]}}}]}),
        _ => byte_level_post,
    };
    tk.with_post_processor(Some(tokenizer_part::<tokenizers::PostProcessorWrapper>(path, "post_processor", post)?));
    let decoder = json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
    tk.with_decoder(Some(tokenizer_part::<tokenizers::DecoderWrapper>(path, "decoder", decoder)?));
    // 3 = control, 4 = user-defined: added tokens matched before BPE (they keep their vocab ids).
    let added: Vec<tokenizers::AddedToken> = tokens
        .iter()
        .enumerate()
        .filter_map(|(id, tok)| match types.get(id).copied().unwrap_or(1) {
            t @ (3 | 4) => Some(
                tokenizers::AddedToken::from(tok.clone(), t == 3)
                    .single_word(false)
                    .lstrip(false)
                    .rstrip(false)
                    .normalized(false),
            ),
            _ => None,
        })
        .collect();
    tk.add_tokens(added.iter().filter(|a| !a.special).cloned()).map_err(|e| bad(e.to_string()))?;
    tk.add_special_tokens(added.iter().filter(|a| a.special).cloned()).map_err(|e| bad(e.to_string()))?;
    Ok(tk)
}

/// One component of a tokenizer (normalizer, pre-tokenizer, …) from its tokenizer.json form.
fn tokenizer_part<T: serde::de::DeserializeOwned>(path: &Path, what: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| ModelError::Tokenizer {
        path: path.to_path_buf(),
        message: format!("rebuilding {what} from GGUF metadata: {e}"),
    })
}

/// `tokenizer.ggml.*` keys for a tokenizer.json (byte-level BPE only). The token list is padded
/// with unused `[PADn]` entries up to the model's `vocab_size` (embedding rows), as llama.cpp's
/// converter does: llama.cpp checks that the list and token_embd agree.
pub fn tokenizer_metadata(tj: &Value, path: &Path, vocab_size: Option<usize>) -> Result<Vec<(String, MetaValue)>> {
    let model = &tj["model"];
    if model["type"].as_str() != Some("BPE") {
        return Err(ModelError::key(path, "model.type", "only byte-level BPE tokenizers can be written to GGUF"));
    }
    let pre = pre_name_of(tj).ok_or_else(|| {
        ModelError::key(
            path,
            "pre_tokenizer",
            "llama.cpp has no pre-tokenizer type for this one (known: GPT-2's ByteLevel without a prefix space, \
             the Qwen2, Llama 3 and DeepSeek-V3 regexes); run the Hugging Face directory as it is (reasoner \
             loads it), or convert it with llama.cpp's convert_hf_to_gguf.py, which knows more pre-tokenizers",
        )
    })?;
    let vocab = model["vocab"].as_object().ok_or_else(|| ModelError::key(path, "model.vocab", "missing"))?;
    let mut n = vocab.values().filter_map(|v| v.as_u64()).max().map_or(0, |m| m + 1) as usize;
    let added = tj["added_tokens"].as_array().cloned().unwrap_or_default();
    for a in &added {
        n = n.max(a["id"].as_u64().unwrap_or(0) as usize + 1);
    }
    let n = n.max(vocab_size.unwrap_or(0));
    // Ids come from the file: one past the vocabulary ceiling would size the lists below.
    if n > crate::config::limits::VOCAB {
        return Err(ModelError::key(
            path,
            "model.vocab",
            format!("a token id of {} is past the vocabulary ceiling of {}", n - 1, crate::config::limits::VOCAB),
        ));
    }
    let mut tokens = vec![String::new(); n];
    let mut types = vec![1i32; n];
    for (t, id) in vocab {
        if let Some(id) = id.as_u64() {
            tokens[id as usize] = t.clone();
        }
    }
    for a in &added {
        let id = a["id"].as_u64().unwrap_or(0) as usize;
        tokens[id] = a["content"].as_str().unwrap_or("").to_string();
        types[id] = if a["special"].as_bool() == Some(true) { 3 } else { 4 };
    }
    for (id, t) in tokens.iter_mut().enumerate() {
        if t.is_empty() {
            *t = format!("[PAD{id}]");
            types[id] = 5; // unused
        }
    }
    let merges: Vec<String> = model["merges"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Array(p) => Some(format!("{} {}", p.first()?.as_str()?, p.get(1)?.as_str()?)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    // Llama 3-style tokenizers add BOS in their post-processor.
    let add_bos = tj["post_processor"].to_string().contains("TemplateProcessing");
    Ok(vec![
        ("tokenizer.ggml.model".into(), MetaValue::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), MetaValue::String(pre.into())),
        ("tokenizer.ggml.tokens".into(), MetaValue::Array(MetaArray::String(tokens))),
        ("tokenizer.ggml.token_type".into(), MetaValue::Array(MetaArray::I32(types))),
        ("tokenizer.ggml.merges".into(), MetaValue::Array(MetaArray::String(merges))),
        ("tokenizer.ggml.add_bos_token".into(), MetaValue::Bool(add_bos)),
    ])
}
