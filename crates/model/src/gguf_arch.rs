//! How Hugging Face checkpoints and llama.cpp's GGUF name the same things, in both directions:
//! tensor names (`model.layers.3.self_attn.q_proj.weight` ↔ `blk.3.attn_q.weight`), config.json
//! keys ↔ `{arch}.*` metadata, and tokenizer.json ↔ `tokenizer.ggml.*`. Reading and writing share
//! these tables so a file we write reads back as what we started from.

use crate::compact_bpe::CompactBpe;
use crate::gguf::{MetaArray, MetaValue, Metadata};
use crate::error::{ModelError, Result};
use serde_json::{json, Value};
use std::path::Path;

/// (HF architecture, GGUF `general.architecture`).
pub const ARCHITECTURES: &[(&str, &str)] = &[
    ("Qwen2ForCausalLM", "qwen2"),
    ("LlamaForCausalLM", "llama"),
    ("Qwen3ForCausalLM", "qwen3"),
    // Both DeepSeek generations are llama.cpp's `deepseek2`; reading picks V3 for a sigmoid
    // router (V3, R1) and V2 for softmax (V2, V2-Lite, V2.5).
    ("DeepseekV3ForCausalLM", "deepseek2"),
    ("DeepseekV2ForCausalLM", "deepseek2"),
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
    // DeepSeek MLA. kv_b_proj is written split (attn_k_b / attn_v_b, see `split_kv_b`);
    // `attn_kv_b` is what older llama.cpp files hold, and reads as it is.
    ("self_attn.q_a_proj.weight", "attn_q_a.weight"),
    ("self_attn.q_a_proj.bias", "attn_q_a.bias"),
    ("self_attn.q_a_layernorm.weight", "attn_q_a_norm.weight"),
    ("self_attn.q_b_proj.weight", "attn_q_b.weight"),
    ("self_attn.kv_a_proj_with_mqa.weight", "attn_kv_a_mqa.weight"),
    ("self_attn.kv_a_proj_with_mqa.bias", "attn_kv_a_mqa.bias"),
    ("self_attn.kv_a_layernorm.weight", "attn_kv_a_norm.weight"),
    ("self_attn.kv_b_proj.weight", "attn_kv_b.weight"),
    // DeepSeekMoE: router, its bias, shared experts. Routed experts are stacked 3-D tensors
    // (see `EXPERT_PROJS`).
    ("mlp.gate.weight", "ffn_gate_inp.weight"),
    ("mlp.gate.e_score_correction_bias", "exp_probs_b.bias"),
    ("mlp.shared_experts.gate_proj.weight", "ffn_gate_shexp.weight"),
    ("mlp.shared_experts.up_proj.weight", "ffn_up_shexp.weight"),
    ("mlp.shared_experts.down_proj.weight", "ffn_down_shexp.weight"),
    // DeepSeek-V3 multi-token prediction, stored as the blocks after the main ones.
    ("eh_proj.weight", "nextn.eh_proj.weight"),
    ("enorm.weight", "nextn.enorm.weight"),
    ("hnorm.weight", "nextn.hnorm.weight"),
    ("embed_tokens.weight", "nextn.embed_tokens.weight"),
    ("shared_head.head.weight", "nextn.shared_head_head.weight"),
    ("shared_head.norm.weight", "nextn.shared_head_norm.weight"),
];

/// Routed experts: (HF projection, GGUF stacked tensor). `model.layers.L.mlp.experts.E.gate_proj.weight`
/// is expert E of `blk.L.ffn_gate_exps.weight`, shape (experts, rows, cols).
pub const EXPERT_PROJS: [(&str, &str); 3] =
    [("gate_proj", "ffn_gate_exps"), ("up_proj", "ffn_up_exps"), ("down_proj", "ffn_down_exps")];

/// `model.layers.L.mlp.experts.E.{proj}.weight` -> (L, E, index into `EXPERT_PROJS`).
pub fn hf_expert_of(name: &str) -> Option<(usize, usize, usize)> {
    let rest = name.strip_prefix("model.layers.")?;
    let (layer, rest) = rest.split_once('.')?;
    let rest = rest.strip_prefix("mlp.experts.")?;
    let (expert, rest) = rest.split_once('.')?;
    let proj = rest.strip_suffix(".weight")?;
    let p = EXPERT_PROJS.iter().position(|(h, _)| *h == proj)?;
    Some((layer.parse().ok()?, expert.parse().ok()?, p))
}

pub fn hf_expert_name(layer: usize, expert: usize, proj: usize) -> String {
    format!("model.layers.{layer}.mlp.experts.{expert}.{}.weight", EXPERT_PROJS[proj].0)
}

pub fn gguf_experts_name(layer: usize, proj: usize) -> String {
    format!("blk.{layer}.{}.weight", EXPERT_PROJS[proj].1)
}

/// `blk.L.ffn_gate_exps.weight` -> (L, index into `EXPERT_PROJS`).
pub fn gguf_experts_of(name: &str) -> Option<(usize, usize)> {
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let stem = rest.strip_suffix(".weight")?;
    let p = EXPERT_PROJS.iter().position(|(_, g)| *g == stem)?;
    Some((layer.parse().ok()?, p))
}

/// `blk.L.attn_k_b.weight` / `blk.L.attn_v_b.weight` -> (L, is_v).
pub fn gguf_kv_b_part_of(name: &str) -> Option<(usize, bool)> {
    let rest = name.strip_prefix("blk.")?;
    let (layer, rest) = rest.split_once('.')?;
    let is_v = match rest {
        "attn_k_b.weight" => false,
        "attn_v_b.weight" => true,
        _ => return None,
    };
    Some((layer.parse().ok()?, is_v))
}

/// The split llama.cpp's converter makes of MLA's kv_b_proj (h·(nope+v), r), rows per head
/// [nope | v]: k_b = the nope rows of each head transposed, (h, r, nope) — ggml
/// `{nope, r, h}` — and v_b = the v rows as they are, (h, v, r) — ggml `{r, v, h}`.
pub fn split_kv_b(kv_b: &[f32], heads: usize, nope: usize, v: usize, r: usize) -> (Vec<f32>, Vec<f32>) {
    let mut k_b = vec![0f32; heads * r * nope];
    let mut v_b = Vec::with_capacity(heads * v * r);
    for h in 0..heads {
        let head = &kv_b[h * (nope + v) * r..(h + 1) * (nope + v) * r];
        for i in 0..nope {
            for j in 0..r {
                k_b[(h * r + j) * nope + i] = head[i * r + j];
            }
        }
        v_b.extend_from_slice(&head[nope * r..]);
    }
    (k_b, v_b)
}

/// The inverse of `split_kv_b`.
pub fn join_kv_b(k_b: &[f32], v_b: &[f32], heads: usize, nope: usize, v: usize, r: usize) -> Vec<f32> {
    let mut kv_b = Vec::with_capacity(heads * (nope + v) * r);
    for h in 0..heads {
        for i in 0..nope {
            kv_b.extend((0..r).map(|j| k_b[(h * r + j) * nope + i]));
        }
        kv_b.extend_from_slice(&v_b[h * v * r..(h + 1) * v * r]);
    }
    kv_b
}

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
/// load GGUF models through the same code as HF directories. `has_tensor` answers for GGUF
/// tensor names (`output.weight`: untied head; `exp_probs_b`: DeepSeek-V3's router bias).
pub fn config_from_metadata(meta: &Metadata, path: &Path, vocab_size: usize, has_tensor: &dyn Fn(&str) -> bool) -> Result<Value> {
    let arch = meta
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ModelError::key(path, "general.architecture", "missing"))?;
    let hf = hf_arch_of(arch).ok_or_else(|| ModelError::UnknownArchitecture {
        path: path.to_path_buf(),
        arch: arch.to_string(),
        supported: ARCHITECTURES.iter().map(|(_, g)| *g).collect::<Vec<_>>().join(", "),
    })?;
    let has_output = has_tensor("output.weight");
    if arch == "deepseek2" {
        return deepseek_config_from_metadata(meta, path, vocab_size, has_tensor);
    }
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
/// `has_tensor` answers for Hugging Face tensor names (DeepSeek's MTP blocks are counted only
/// when the checkpoint holds them).
pub fn metadata_from_config(cfg: &Value, path: &Path, has_tensor: &dyn Fn(&str) -> bool) -> Result<(String, Vec<(String, MetaValue)>)> {
    let hf = cfg["architectures"][0].as_str().unwrap_or("");
    let arch = gguf_arch_of(hf).ok_or_else(|| ModelError::UnknownArchitecture {
        path: path.to_path_buf(),
        arch: hf.to_string(),
        supported: ARCHITECTURES.iter().map(|(h, _)| *h).collect::<Vec<_>>().join(", "),
    })?;
    if arch == "deepseek2" {
        return Ok((arch.to_string(), deepseek_metadata_from_config(cfg, path, has_tensor)?));
    }
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

/// DeepSeek-V2/V3 dimensions the writer needs to split, stack and reorder tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeepseekLayout {
    pub layers: usize,
    /// MTP blocks written after the main ones.
    pub nextn: usize,
    pub heads: usize,
    pub experts: usize,
    pub kv_lora_rank: usize,
    pub qk_nope_head_dim: usize,
    pub qk_rope_head_dim: usize,
    pub v_head_dim: usize,
    /// transformers' `rope_interleave: false` (rotate-half pairs); GGUF always holds
    /// interleaved pairs (llama.cpp's normal rope), so the writer reorders the rope rows.
    pub half_rope: bool,
}

fn deepseek_spec(cfg: &Value, path: &Path) -> Result<crate::models::deepseek_v3::DeepseekSpec> {
    use crate::models::deepseek_v3::{resolve, Generation};
    let generation = if cfg["architectures"][0].as_str() == Some("DeepseekV2ForCausalLM") { Generation::V2 } else { Generation::V3 };
    resolve(&crate::config::RawConfig { path: path.to_path_buf(), json: cfg.clone() }, generation)
}

/// MTP blocks present in the checkpoint: those of `num_nextn_predict_layers` whose
/// `eh_proj` exists, counted from the first.
fn deepseek_nextn(layers: usize, declared: usize, has_tensor: &dyn Fn(&str) -> bool) -> usize {
    (0..declared).take_while(|k| has_tensor(&format!("model.layers.{}.eh_proj.weight", layers + k))).count()
}

pub fn deepseek_layout(cfg: &Value, path: &Path, has_tensor: &dyn Fn(&str) -> bool) -> Result<DeepseekLayout> {
    let spec = deepseek_spec(cfg, path)?;
    let c = &spec.config;
    Ok(DeepseekLayout {
        layers: c.num_hidden_layers,
        nextn: deepseek_nextn(c.num_hidden_layers, c.num_nextn_predict_layers, has_tensor),
        heads: c.num_attention_heads,
        experts: c.n_routed_experts,
        kv_lora_rank: c.kv_lora_rank,
        qk_nope_head_dim: c.qk_nope_head_dim,
        qk_rope_head_dim: c.qk_rope_head_dim,
        v_head_dim: c.v_head_dim,
        half_rope: spec.rope_layout == crate::layers::rope::RopeLayout::Half,
    })
}

/// `deepseek2.*` keys as llama.cpp's convert_hf_to_gguf.py writes them for DeepseekV2/V3
/// (`DeepseekV2Model.set_gguf_parameters`), with every router setting written explicitly (its
/// defaults differ between V2 and V3 in transformers, not in llama.cpp).
fn deepseek_metadata_from_config(cfg: &Value, path: &Path, has_tensor: &dyn Fn(&str) -> bool) -> Result<Vec<(String, MetaValue)>> {
    use crate::layers::moe::ScoringFunc;
    let spec = deepseek_spec(cfg, path)?;
    let c = &spec.config;
    if spec.moe_layer_freq != 1 {
        return Err(ModelError::key(path, "moe_layer_freq", format!("{} cannot be written to GGUF: llama.cpp's deepseek2 has MoE in every layer after leading_dense_block_count", spec.moe_layer_freq)));
    }
    let nextn = deepseek_nextn(c.num_hidden_layers, c.num_nextn_predict_layers, has_tensor);
    let (r, dr) = (c.kv_lora_rank as u32, c.qk_rope_head_dim as u32);
    let k = |s: &str| format!("deepseek2.{s}");
    let u = |v: usize| MetaValue::U32(v as u32);
    let router = &spec.router;
    let mut m = vec![
        ("general.architecture".to_string(), MetaValue::String("deepseek2".into())),
        (k("context_length"), u(c.max_position_embeddings.unwrap_or(4096))),
        (k("embedding_length"), u(c.hidden_size)),
        // llama.cpp counts the MTP blocks in block_count and subtracts nextn_predict_layers.
        (k("block_count"), u(c.num_hidden_layers + nextn)),
        (k("feed_forward_length"), u(c.intermediate_size)),
        (k("attention.head_count"), u(c.num_attention_heads)),
        // MLA runs as MQA over the latent: one shared key/value head.
        (k("attention.head_count_kv"), MetaValue::U32(1)),
        (k("attention.layer_norm_rms_epsilon"), MetaValue::F32(c.rms_norm_eps as f32)),
        (k("rope.freq_base"), MetaValue::F32(spec.rope.theta as f32)),
        (k("vocab_size"), u(c.vocab_size)),
        (k("leading_dense_block_count"), u(c.first_k_dense_replace)),
        // llama.cpp requires this key except for a few named "lite" depths; 0 means q_proj.
        (k("attention.q_lora_rank"), u(c.q_lora_rank.unwrap_or(0))),
        (k("attention.kv_lora_rank"), MetaValue::U32(r)),
        (k("attention.key_length"), MetaValue::U32(r + dr)),
        (k("attention.value_length"), MetaValue::U32(r)),
        (k("attention.key_length_mla"), u(c.qk_nope_head_dim + c.qk_rope_head_dim)),
        (k("attention.value_length_mla"), u(c.v_head_dim)),
        (k("expert_feed_forward_length"), u(c.moe_intermediate_size)),
        (k("expert_count"), u(router.n_routed_experts)),
        (k("expert_used_count"), u(router.num_experts_per_tok)),
        (k("expert_shared_count"), u(spec.n_shared_experts)),
        (k("expert_group_count"), u(router.n_group)),
        (k("expert_group_used_count"), u(router.topk_group)),
        (k("expert_weights_scale"), MetaValue::F32(router.routed_scaling_factor as f32)),
        (k("expert_weights_norm"), MetaValue::Bool(router.norm_topk_prob)),
        (k("expert_gating_func"), MetaValue::U32(match router.scoring_func {
            ScoringFunc::Softmax => 1,
            ScoringFunc::Sigmoid => 2,
        })),
        (k("rope.dimension_count"), MetaValue::U32(dr)),
    ];
    if nextn > 0 {
        m.push((k("nextn_predict_layers"), u(nextn)));
    }
    match spec.rope.scaling {
        crate::config::RopeScaling::None => {}
        crate::config::RopeScaling::Yarn { factor, original_max_position_embeddings, beta_fast, beta_slow, mscale_all_dim, .. } => {
            m.push((k("rope.scaling.type"), MetaValue::String("yarn".into())));
            m.push((k("rope.scaling.factor"), MetaValue::F32(factor as f32)));
            m.push((k("rope.scaling.original_context_length"), MetaValue::U32(original_max_position_embeddings as u32)));
            m.push((k("rope.scaling.yarn_beta_fast"), MetaValue::F32(beta_fast as f32)));
            m.push((k("rope.scaling.yarn_beta_slow"), MetaValue::F32(beta_slow as f32)));
            // llama.cpp's converter stores 0.1·mscale_all_dim here and its loader divides by 0.1
            // ([TAG_DEEPSEEK2_YARN_LOG_MUL_FIX]); it takes `mscale` equal to `mscale_all_dim`,
            // as every DeepSeek config has it.
            if let Some(m_all) = mscale_all_dim {
                m.push((k("rope.scaling.yarn_log_multiplier"), MetaValue::F32((0.1 * m_all) as f32)));
            }
        }
        crate::config::RopeScaling::Linear { factor } => {
            m.push((k("rope.scaling.type"), MetaValue::String("linear".into())));
            m.push((k("rope.scaling.factor"), MetaValue::F32(factor as f32)));
        }
        _ => return Err(ModelError::key(path, "rope_scaling", "only yarn or linear rope scaling can be written for DeepSeek")),
    }
    Ok(m)
}

/// config.json for a `deepseek2` GGUF (the inverse of `deepseek_metadata_from_config`; also
/// reads files from llama.cpp's converter, older ones without the `_mla` lengths included).
fn deepseek_config_from_metadata(meta: &Metadata, path: &Path, vocab_size: usize, has_tensor: &dyn Fn(&str) -> bool) -> Result<Value> {
    let k = |s: &str| format!("deepseek2.{s}");
    let need = |s: &str| meta_u(meta, &k(s), path);
    let opt_u = |s: &str| meta.get(&k(s)).and_then(|v| v.as_u64());
    let opt_f = |s: &str| meta_f(meta, &k(s));
    let heads = need("attention.head_count")?;
    let block_count = need("block_count")?;
    let nextn = opt_u("nextn_predict_layers").unwrap_or(0);
    if nextn >= block_count {
        return Err(ModelError::key(path, &k("nextn_predict_layers"), format!("{nextn} leaves no main blocks of block_count {block_count}")));
    }
    let layers = block_count - nextn;
    let rope_dim = need("rope.dimension_count")?;
    let kv_lora_rank = need("attention.kv_lora_rank")?;
    // Newer files: key/value_length describe the latent MQA view and the `_mla` keys the
    // per-head sizes; older ones stored the per-head sizes in key/value_length.
    let (qk_head, v_head) = match (opt_u("attention.key_length_mla"), opt_u("attention.value_length_mla")) {
        (Some(kl), Some(vl)) => (kl, vl),
        _ => (need("attention.key_length")?, need("attention.value_length")?),
    };
    if qk_head <= rope_dim {
        return Err(ModelError::key(path, &k("attention.key_length_mla"), format!("{qk_head} must exceed rope.dimension_count ({rope_dim})")));
    }
    let q_lora_rank = opt_u("attention.q_lora_rank").filter(|&q| q > 0);
    let leading = opt_u("leading_dense_block_count").unwrap_or(0);
    // llama.cpp: no expert_gating_func means softmax (older V2 files).
    let sigmoid = opt_u("expert_gating_func") == Some(2);
    let n_group = opt_u("expert_group_count").unwrap_or(1).max(1);
    let topk_group = opt_u("expert_group_used_count").unwrap_or(n_group);
    let has_bias = has_tensor(&format!("blk.{leading}.exp_probs_b.bias"));
    let topk_method = if has_bias { "noaux_tc" } else if n_group > 1 { "group_limited_greedy" } else { "greedy" };
    let hf = if sigmoid { "DeepseekV3ForCausalLM" } else { "DeepseekV2ForCausalLM" };
    let mut cfg = json!({
        "architectures": [hf],
        "vocab_size": vocab_size,
        "hidden_size": need("embedding_length")?,
        "intermediate_size": need("feed_forward_length")?,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "rms_norm_eps": meta_f(meta, &k("attention.layer_norm_rms_epsilon")).unwrap_or(1e-6),
        "max_position_embeddings": opt_u("context_length").unwrap_or(4096),
        "rope_theta": opt_f("rope.freq_base").unwrap_or(10000.0),
        "tie_word_embeddings": !has_tensor("output.weight"),
        "hidden_act": "silu",
        "attention_bias": has_tensor("blk.0.attn_kv_a_mqa.bias"),
        "q_lora_rank": q_lora_rank,
        "kv_lora_rank": kv_lora_rank,
        "qk_nope_head_dim": qk_head - rope_dim,
        "qk_rope_head_dim": rope_dim,
        "v_head_dim": v_head,
        "rope_interleave": true,
        "first_k_dense_replace": leading,
        "moe_layer_freq": 1,
        "moe_intermediate_size": need("expert_feed_forward_length")?,
        "n_routed_experts": need("expert_count")?,
        "num_experts_per_tok": need("expert_used_count")?,
        "n_shared_experts": opt_u("expert_shared_count").unwrap_or(0),
        "n_group": n_group,
        "topk_group": topk_group,
        "topk_method": topk_method,
        "scoring_func": if sigmoid { "sigmoid" } else { "softmax" },
        "norm_topk_prob": meta.get(&k("expert_weights_norm")).and_then(|v| v.as_bool()).unwrap_or(false),
        "routed_scaling_factor": opt_f("expert_weights_scale").filter(|s| *s > 0.0).unwrap_or(1.0),
        "num_nextn_predict_layers": nextn,
    });
    match meta.get(&k("rope.scaling.type")).and_then(|v| v.as_str()) {
        Some("yarn") => {
            let mut y = json!({
                "type": "yarn",
                "factor": opt_f("rope.scaling.factor").unwrap_or(1.0),
                "original_max_position_embeddings": opt_u("rope.scaling.original_context_length").or(opt_u("context_length")),
            });
            if let Some(b) = opt_f("rope.scaling.yarn_beta_fast") {
                y["beta_fast"] = json!(b);
            }
            if let Some(b) = opt_f("rope.scaling.yarn_beta_slow") {
                y["beta_slow"] = json!(b);
            }
            if let Some(log_mul) = opt_f("rope.scaling.yarn_log_multiplier") {
                // Undo the converter's 0.1 factor; round off the f32 noise (0.0707 -> 0.707).
                let m = (log_mul / 0.1 * 1e6).round() / 1e6;
                y["mscale"] = json!(m);
                y["mscale_all_dim"] = json!(m);
            }
            cfg["rope_scaling"] = y;
        }
        Some("linear") => {
            cfg["rope_scaling"] = json!({"type": "linear", "factor": opt_f("rope.scaling.factor").unwrap_or(1.0)});
        }
        _ => {}
    }
    Ok(cfg)
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
        // GPT-2's own pre-tokenizer: ByteLevel with its built-in regex, which is llama.cpp's
        // `gpt2` regex ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+).
        "gpt2" => (Value::Null, json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true})),
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

/// The tokenizers pipeline (normalizer, pre-tokenizer, added tokens, post-processor, decoder)
/// around the compact BPE model that GGUF tokenizers are rebuilt into.
pub type GgufTokenizer = tokenizers::TokenizerImpl<
    CompactBpe,
    tokenizers::NormalizerWrapper,
    tokenizers::PreTokenizerWrapper,
    tokenizers::PostProcessorWrapper,
    tokenizers::DecoderWrapper,
>;

/// Rebuild a byte-level BPE tokenizer ("gpt2" models) from `tokenizer.ggml.*`: the tokenizers
/// crate's pipeline around our compact BPE model (`compact_bpe`).
pub fn tokenizer_from_metadata(meta: &Metadata, path: &Path) -> Result<GgufTokenizer> {
    let model = meta.get("tokenizer.ggml.model").and_then(|v| v.as_str()).unwrap_or("");
    if model != "gpt2" {
        return Err(ModelError::key(path, "tokenizer.ggml.model", format!("`{model}` is not supported (only byte-level BPE, \"gpt2\")")));
    }
    let pre = meta.get("tokenizer.ggml.pre").and_then(|v| v.as_str()).unwrap_or("default");
    let (normalizer, pre_tokenizer) = pre_tokenizer_for(pre).ok_or_else(|| {
        ModelError::key(path, "tokenizer.ggml.pre", format!("`{pre}` is not supported (gpt2, qwen2, llama-bpe, deepseek-v3)"))
    })?;
    let tokens = match meta.get("tokenizer.ggml.tokens").and_then(|v| v.as_array()) {
        Some(MetaArray::String(t)) => t,
        _ => return Err(ModelError::key(path, "tokenizer.ggml.tokens", "missing or not a string array")),
    };
    let merges: &[String] = match meta.get("tokenizer.ggml.merges").and_then(|v| v.as_array()) {
        Some(MetaArray::String(m)) => m,
        _ => &[],
    };
    let types: Vec<i64> = meta.get("tokenizer.ggml.token_type").and_then(|v| v.as_array()).and_then(|a| a.to_i64s()).unwrap_or_default();
    // Built through the tokenizers API rather than a tokenizer.json text: for a 150k-token
    // vocabulary the JSON tree and text cost ~90 MB of peak memory, more than the rest of start-up.
    let bad = |message: String| ModelError::Tokenizer { path: path.to_path_buf(), message: format!("rebuilding from GGUF metadata: {message}") };
    let bpe = CompactBpe::new(tokens, merges, pre == "llama-bpe").map_err(bad)?;
    let mut tk = GgufTokenizer::new(bpe);
    if !normalizer.is_null() {
        tk.with_normalizer(Some(tokenizer_part::<tokenizers::NormalizerWrapper>(path, "normalizer", normalizer)?)).map_err(|e| bad(e.to_string()))?;
    }
    tk.with_pre_tokenizer(Some(tokenizer_part::<tokenizers::PreTokenizerWrapper>(path, "pre_tokenizer", pre_tokenizer)?));
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
    tk.with_post_processor(Some(tokenizer_part::<tokenizers::PostProcessorWrapper>(path, "post_processor", post)?));
    let decoder = json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
    tk.with_decoder(Some(tokenizer_part::<tokenizers::DecoderWrapper>(path, "decoder", decoder)?));
    // 3 = control, 4 = user-defined: added tokens matched before BPE (they keep their vocab ids).
    let added: Vec<tokenizers::AddedToken> = tokens
        .iter()
        .enumerate()
        .filter_map(|(id, tok)| match types.get(id).copied().unwrap_or(1) {
            t @ (3 | 4) => Some(tokenizers::AddedToken::from(tok.clone(), t == 3).single_word(false).lstrip(false).rstrip(false).normalized(false)),
            _ => None,
        })
        .collect();
    tk.add_tokens(added.iter().filter(|a| !a.special).cloned()).map_err(|e| bad(e.to_string()))?;
    tk.add_special_tokens(added.iter().filter(|a| a.special).cloned()).map_err(|e| bad(e.to_string()))?;
    Ok(tk)
}

/// One component of a tokenizer (normalizer, pre-tokenizer, …) from its tokenizer.json form.
fn tokenizer_part<T: serde::de::DeserializeOwned>(path: &Path, what: &str, v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| ModelError::Tokenizer { path: path.to_path_buf(), message: format!("rebuilding {what} from GGUF metadata: {e}") })
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
    fn deepseek_names() {
        for n in ["model.layers.1.self_attn.q_a_proj.weight", "model.layers.1.mlp.gate.e_score_correction_bias", "model.layers.3.shared_head.head.weight"] {
            assert_eq!(gguf_to_hf_name(&hf_to_gguf_name(n).unwrap()).unwrap(), n);
        }
        assert_eq!(hf_to_gguf_name("model.layers.2.mlp.gate.e_score_correction_bias").unwrap(), "blk.2.exp_probs_b.bias");
        assert_eq!(hf_to_gguf_name("model.layers.61.eh_proj.weight").unwrap(), "blk.61.nextn.eh_proj.weight");
        assert_eq!(hf_expert_of("model.layers.5.mlp.experts.17.down_proj.weight"), Some((5, 17, 2)));
        assert_eq!(hf_expert_of("model.layers.5.mlp.shared_experts.down_proj.weight"), None);
        assert_eq!(hf_expert_name(5, 17, 2), "model.layers.5.mlp.experts.17.down_proj.weight");
        assert_eq!(gguf_experts_of(&gguf_experts_name(4, 0)), Some((4, 0)));
        assert_eq!(gguf_experts_name(4, 1), "blk.4.ffn_up_exps.weight");
        assert_eq!(gguf_kv_b_part_of("blk.9.attn_v_b.weight"), Some((9, true)));
    }

    #[test]
    fn kv_b_split_matches_llama_cpp_and_inverts() {
        // 2 heads, nope 2, v 1, r 3: rows per head [k0 k1 v0], values = 100·row + col.
        let (h, dn, dv, r) = (2, 2, 1, 3);
        let kv: Vec<f32> = (0..h * (dn + dv)).flat_map(|row| (0..r).map(move |c| (100 * row + c) as f32)).collect();
        let (k_b, v_b) = split_kv_b(&kv, h, dn, dv, r);
        // k_b[h][j][i] = kv[h·3 + i][j]; v_b[h][i][j] = kv[h·3 + 2 + i][j].
        assert_eq!(k_b[..6], [0., 100., 1., 101., 2., 102.]);
        assert_eq!(k_b[6..], [300., 400., 301., 401., 302., 402.]);
        assert_eq!(v_b, [200., 201., 202., 500., 501., 502.]);
        assert_eq!(join_kv_b(&k_b, &v_b, h, dn, dv, r), kv);
    }

    #[test]
    fn llama_permutation_interleaves_halves() {
        // head_dim 4: rows [a0 a1 b0 b1] -> [a0 b0 a1 b1]
        assert_eq!(llama_qk_permutation(8, 2), vec![0, 2, 1, 3, 4, 6, 5, 7]);
    }
}
