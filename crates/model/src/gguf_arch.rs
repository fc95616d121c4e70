//! How Hugging Face checkpoints and llama.cpp's GGUF name the same things, in both directions:
//! tensor names (`model.layers.3.self_attn.q_proj.weight` ↔ `blk.3.attn_q.weight`), config.json
//! keys ↔ `{arch}.*` metadata, and tokenizer.json ↔ `tokenizer.ggml.*`. Reading and writing share
//! these tables so a file we write reads back as what we started from.

use crate::gguf::{MetaArray, MetaValue, Metadata};
use crate::error::{ModelError, Result};
use serde_json::{json, Value};
use std::path::Path;

/// (HF architecture, GGUF `general.architecture`).
pub const ARCHITECTURES: &[(&str, &str)] = &[
    ("Qwen2ForCausalLM", "qwen2"),
    ("LlamaForCausalLM", "llama"),
    ("Qwen3ForCausalLM", "qwen3"),
];

pub fn gguf_arch_of(hf: &str) -> Option<&'static str> {
    ARCHITECTURES.iter().find(|(h, _)| *h == hf).map(|(_, g)| *g)
}

pub fn hf_arch_of(gguf: &str) -> Option<&'static str> {
    ARCHITECTURES.iter().find(|(_, g)| *g == gguf).map(|(h, _)| *h)
}

/// Per-layer tensor names: (HF suffix after `model.layers.N.`, GGUF suffix after `blk.N.`).
const LAYER_TENSORS: &[(&str, &str)] = &[
    ("input_layernorm.weight", "attn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.q_proj.bias", "attn_q.bias"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.k_proj.bias", "attn_k.bias"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.v_proj.bias", "attn_v.bias"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("self_attn.o_proj.bias", "attn_output.bias"),
    ("self_attn.q_norm.weight", "attn_q_norm.weight"),
    ("self_attn.k_norm.weight", "attn_k_norm.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
    ("mlp.gate_proj.bias", "ffn_gate.bias"),
    ("mlp.up_proj.bias", "ffn_up.bias"),
    ("mlp.down_proj.bias", "ffn_down.bias"),
];

const GLOBAL_TENSORS: &[(&str, &str)] = &[
    ("model.embed_tokens.weight", "token_embd.weight"),
    ("model.norm.weight", "output_norm.weight"),
    ("lm_head.weight", "output.weight"),
];

pub fn hf_to_gguf_name(name: &str) -> Option<String> {
    if let Some((_, g)) = GLOBAL_TENSORS.iter().find(|(h, _)| *h == name) {
        return Some(g.to_string());
    }
    let rest = name.strip_prefix("model.layers.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    LAYER_TENSORS.iter().find(|(h, _)| *h == suffix).map(|(_, g)| format!("blk.{layer}.{g}"))
}

pub fn gguf_to_hf_name(name: &str) -> Option<String> {
    if let Some((h, _)) = GLOBAL_TENSORS.iter().find(|(_, g)| *g == name) {
        return Some(h.to_string());
    }
    let rest = name.strip_prefix("blk.")?;
    let (layer, suffix) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    LAYER_TENSORS.iter().find(|(_, g)| *g == suffix).map(|(h, _)| format!("model.layers.{layer}.{h}"))
}

/// llama.cpp's converter permutes Llama's q/k rows from rotate-half order into interleaved
/// pairs (its "normal" rope): row (h, i, half) -> (h, half... ) as in `LlamaModel.permute`.
/// Returns, for each output row, the source row.
pub fn llama_qk_permutation(rows: usize, n_heads: usize) -> Vec<usize> {
    let head_dim = rows / n_heads;
    let half = head_dim / 2;
    let mut perm = Vec::with_capacity(rows);
    for h in 0..n_heads {
        for i in 0..half {
            for j in 0..2 {
                // reshape(n_head, 2, half) then swap axes 1 and 2: new (h, i, j) = old (h, j, i)
                perm.push(h * head_dim + j * half + i);
            }
        }
    }
    perm
}

fn meta_u(meta: &Metadata, key: &str, path: &Path) -> Result<u64> {
    meta.get(key)
        .and_then(|v| v.as_u64())
        .ok_or_else(|| ModelError::key(path, key, "missing or not an integer in the GGUF metadata"))
}

fn meta_f(meta: &Metadata, key: &str) -> Option<f64> {
    meta.get(key).and_then(|v| v.as_f64())
}

/// A config.json equivalent built from a GGUF's `{arch}.*` metadata, so the architecture files
/// load GGUF models through the same code as HF directories.
pub fn config_from_metadata(meta: &Metadata, path: &Path, vocab_size: usize, has_output: bool) -> Result<Value> {
    let arch = meta
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ModelError::key(path, "general.architecture", "missing"))?;
    let hf = hf_arch_of(arch).ok_or_else(|| ModelError::UnknownArchitecture {
        path: path.to_path_buf(),
        arch: arch.to_string(),
        supported: ARCHITECTURES.iter().map(|(_, g)| *g).collect::<Vec<_>>().join(", "),
    })?;
    let k = |s: &str| format!("{arch}.{s}");
    let heads = meta_u(meta, &k("attention.head_count"), path)?;
    let hidden = meta_u(meta, &k("embedding_length"), path)?;
    let mut cfg = json!({
        "architectures": [hf],
        "hidden_size": hidden,
        "intermediate_size": meta_u(meta, &k("feed_forward_length"), path)?,
        "num_hidden_layers": meta_u(meta, &k("block_count"), path)?,
        "num_attention_heads": heads,
        "num_key_value_heads": meta.get(&k("attention.head_count_kv")).and_then(|v| v.as_u64()).unwrap_or(heads),
        "rms_norm_eps": meta_f(meta, &k("attention.layer_norm_rms_epsilon")).unwrap_or(1e-6),
        "max_position_embeddings": meta.get(&k("context_length")).and_then(|v| v.as_u64()).unwrap_or(4096),
        "rope_theta": meta_f(meta, &k("rope.freq_base")).unwrap_or(10000.0),
        "vocab_size": vocab_size,
        "tie_word_embeddings": !has_output,
        "hidden_act": "silu",
    });
    if let Some(kl) = meta.get(&k("attention.key_length")).and_then(|v| v.as_u64()) {
        cfg["head_dim"] = json!(kl);
    }
    match meta.get(&k("rope.scaling.type")).and_then(|v| v.as_str()) {
        Some("linear") => {
            cfg["rope_scaling"] = json!({"rope_type": "linear", "factor": meta_f(meta, &k("rope.scaling.factor")).unwrap_or(1.0)});
        }
        Some("yarn") => {
            cfg["rope_scaling"] = json!({
                "rope_type": "yarn",
                "factor": meta_f(meta, &k("rope.scaling.factor")).unwrap_or(1.0),
                "original_max_position_embeddings": meta.get(&k("rope.scaling.original_context_length")).and_then(|v| v.as_u64()),
            });
        }
        _ => {}
    }
    Ok(cfg)
}

/// `{arch}.*` metadata for a config.json (the inverse of `config_from_metadata`). Llama 3 rope
/// scaling is not a key in GGUF; llama.cpp stores it as the `rope_freqs.weight` tensor instead.
pub fn metadata_from_config(cfg: &Value, path: &Path) -> Result<(String, Vec<(String, MetaValue)>)> {
    let hf = cfg["architectures"][0].as_str().unwrap_or("");
    let arch = gguf_arch_of(hf).ok_or_else(|| ModelError::UnknownArchitecture {
        path: path.to_path_buf(),
        arch: hf.to_string(),
        supported: ARCHITECTURES.iter().map(|(h, _)| *h).collect::<Vec<_>>().join(", "),
    })?;
    let need = |key: &str| -> Result<u32> {
        cfg[key].as_u64().map(|v| v as u32).ok_or_else(|| ModelError::key(path, key, "missing or not an integer"))
    };
    let heads = need("num_attention_heads")?;
    let hidden = need("hidden_size")?;
    let k = |s: &str| format!("{arch}.{s}");
    let mut m = vec![
        ("general.architecture".to_string(), MetaValue::String(arch.to_string())),
        (k("context_length"), MetaValue::U32(cfg["max_position_embeddings"].as_u64().unwrap_or(4096) as u32)),
        (k("embedding_length"), MetaValue::U32(hidden)),
        (k("block_count"), MetaValue::U32(need("num_hidden_layers")?)),
        (k("feed_forward_length"), MetaValue::U32(need("intermediate_size")?)),
        (k("attention.head_count"), MetaValue::U32(heads)),
        (k("attention.head_count_kv"), MetaValue::U32(cfg["num_key_value_heads"].as_u64().map(|v| v as u32).unwrap_or(heads))),
        (k("attention.layer_norm_rms_epsilon"), MetaValue::F32(cfg["rms_norm_eps"].as_f64().unwrap_or(1e-6) as f32)),
    ];
    let rope = crate::config::RopeConfig::from_json(cfg, path)?;
    m.push((k("rope.freq_base"), MetaValue::F32(rope.theta as f32)));
    if let Some(hd) = cfg["head_dim"].as_u64() {
        m.push((k("attention.key_length"), MetaValue::U32(hd as u32)));
        m.push((k("attention.value_length"), MetaValue::U32(hd as u32)));
    }
    match rope.scaling {
        crate::config::RopeScaling::Linear { factor } => {
            m.push((k("rope.scaling.type"), MetaValue::String("linear".into())));
            m.push((k("rope.scaling.factor"), MetaValue::F32(factor as f32)));
        }
        crate::config::RopeScaling::Yarn { factor, original_max_position_embeddings, .. } => {
            m.push((k("rope.scaling.type"), MetaValue::String("yarn".into())));
            m.push((k("rope.scaling.factor"), MetaValue::F32(factor as f32)));
            m.push((k("rope.scaling.original_context_length"), MetaValue::U32(original_max_position_embeddings as u32)));
        }
        _ => {}
    }
    Ok((arch.to_string(), m))
}

/// Pre-tokenizer regexes by llama.cpp's `tokenizer.ggml.pre` name.
const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
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
        "qwen2" => (json!({"type": "NFC"}), json!({"type": "Sequence", "pretokenizers": [split(QWEN2_REGEX), byte_level]})),
        "llama-bpe" | "llama3" => (Value::Null, json!({"type": "Sequence", "pretokenizers": [split(LLAMA3_REGEX), byte_level]})),
        "deepseek-v3" => (
            Value::Null,
            json!({"type": "Sequence", "pretokenizers": [split(DEEPSEEK3_REGEXES[0]), split(DEEPSEEK3_REGEXES[1]), split(DEEPSEEK3_REGEXES[2]), byte_level]}),
        ),
        _ => return None,
    })
}

/// The `tokenizer.ggml.pre` name of a tokenizer.json, recognised by its split regexes.
pub fn pre_name_of(tokenizer_json: &Value) -> Option<&'static str> {
    let pres = tokenizer_json["pre_tokenizer"]["pretokenizers"].as_array()?;
    let regexes: Vec<&str> = pres.iter().filter_map(|p| p["pattern"]["Regex"].as_str()).collect();
    match regexes.as_slice() {
        [r] if *r == QWEN2_REGEX => Some("qwen2"),
        [r] if *r == LLAMA3_REGEX => Some("llama-bpe"),
        [a, b, c] if [*a, *b, *c] == DEEPSEEK3_REGEXES => Some("deepseek-v3"),
        _ => None,
    }
}

/// Rebuild a `tokenizers` BPE tokenizer from `tokenizer.ggml.*` (byte-level "gpt2" models).
pub fn tokenizer_from_metadata(meta: &Metadata, path: &Path) -> Result<tokenizers::Tokenizer> {
    let model = meta.get("tokenizer.ggml.model").and_then(|v| v.as_str()).unwrap_or("");
    if model != "gpt2" {
        return Err(ModelError::key(path, "tokenizer.ggml.model", format!("`{model}` is not supported (only byte-level BPE, \"gpt2\")")));
    }
    let pre = meta.get("tokenizer.ggml.pre").and_then(|v| v.as_str()).unwrap_or("default");
    let (normalizer, pre_tokenizer) = pre_tokenizer_for(pre).ok_or_else(|| {
        ModelError::key(path, "tokenizer.ggml.pre", format!("`{pre}` is not supported (qwen2, llama-bpe, deepseek-v3)"))
    })?;
    let tokens = match meta.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()) {
        Some(MetaArray::String(t)) => t,
        _ => return Err(ModelError::key(path, "tokenizer.ggml.tokens", "missing or not a string array")),
    };
    let merges = match meta.get("tokenizer.ggml.merges").and_then(|v| v.as_array()) {
        Some(MetaArray::String(m)) => m.clone(),
        _ => Vec::new(),
    };
    let types: Vec<i64> = meta.get("tokenizer.ggml.token_type").and_then(|v| v.as_array()).and_then(|a| a.to_i64s()).unwrap_or_default();
    let mut vocab = serde_json::Map::new();
    let mut added = Vec::new();
    for (id, tok) in tokens.iter().enumerate() {
        // 3 = control, 4 = user-defined: added tokens matched before BPE.
        match types.get(id).copied().unwrap_or(1) {
            3 | 4 => added.push(json!({"id": id, "content": tok, "single_word": false, "lstrip": false, "rstrip": false,
                                      "normalized": false, "special": types.get(id) == Some(&3)})),
            _ => {}
        }
        vocab.insert(tok.clone(), json!(id));
    }
    let bos = meta.get("tokenizer.ggml.bos_token_id").and_then(|v| v.as_u64());
    let add_bos = meta.get("tokenizer.ggml.add_bos_token").and_then(|v| v.as_bool()).unwrap_or(false);
    let byte_level_post = json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true});
    let post = match (add_bos, bos.and_then(|b| tokens.get(b as usize))) {
        (true, Some(bos_text)) => json!({"type": "Sequence", "processors": [byte_level_post, {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos_text, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos_text, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos_text, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos_text.clone(): {"id": bos_text, "ids": [bos], "tokens": [bos_text]}}}]}),
        _ => byte_level_post,
    };
    let tj = json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": added,
        "normalizer": normalizer,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": pre == "llama-bpe",
                  "vocab": vocab, "merges": merges},
    });
    let text = tj.to_string();
    text.parse::<tokenizers::Tokenizer>()
        .map_err(|e| ModelError::Tokenizer { path: path.to_path_buf(), message: format!("rebuilding from GGUF metadata: {e}") })
}

/// `tokenizer.ggml.*` keys for a tokenizer.json (byte-level BPE only).
pub fn tokenizer_metadata(tj: &Value, path: &Path) -> Result<Vec<(String, MetaValue)>> {
    let model = &tj["model"];
    if model["type"].as_str() != Some("BPE") {
        return Err(ModelError::key(path, "model.type", "only byte-level BPE tokenizers can be written to GGUF"));
    }
    let pre = pre_name_of(tj).ok_or_else(|| {
        ModelError::key(path, "pre_tokenizer", "unrecognised pre-tokenizer (known: Qwen2, Llama 3, DeepSeek-V3 regexes)")
    })?;
    let vocab = model["vocab"].as_object().ok_or_else(|| ModelError::key(path, "model.vocab", "missing"))?;
    let mut n = vocab.values().filter_map(|v| v.as_u64()).max().map_or(0, |m| m + 1) as usize;
    let added = tj["added_tokens"].as_array().cloned().unwrap_or_default();
    for a in &added {
        n = n.max(a["id"].as_u64().unwrap_or(0) as usize + 1);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in ["model.embed_tokens.weight", "lm_head.weight", "model.layers.11.self_attn.k_proj.bias", "model.layers.0.mlp.down_proj.weight"] {
            let g = hf_to_gguf_name(n).unwrap();
            assert_eq!(gguf_to_hf_name(&g).unwrap(), n);
        }
        assert_eq!(hf_to_gguf_name("model.layers.3.self_attn.q_proj.weight").unwrap(), "blk.3.attn_q.weight");
    }

    #[test]
    fn llama_permutation_interleaves_halves() {
        // head_dim 4: rows [a0 a1 b0 b1] -> [a0 b0 a1 b1]
        assert_eq!(llama_qk_permutation(8, 2), vec![0, 2, 1, 3, 4, 6, 5, 7]);
    }
}
