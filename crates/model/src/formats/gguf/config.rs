//! config.json keys ↔ GGUF `{arch}.*` metadata, both directions, for the dense families and
//! DeepSeek-V2/V3 (whose checked config comes from `config::deepseek`, as the forward pass's does).

use super::{MetaValue, Metadata};
use crate::config::RopeLayout;
use crate::config::deepseek::{DeepseekSpec, Generation, ScoringFunc, resolve};
use crate::error::{ModelError, Result};
use serde_json::{Value, json};
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
pub fn config_from_metadata(
    meta: &Metadata,
    path: &Path,
    vocab_size: usize,
    has_tensor: &dyn Fn(&str) -> bool,
) -> Result<Value> {
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
            cfg["rope_scaling"] =
                json!({"rope_type": "linear", "factor": meta_f(meta, &k("rope.scaling.factor")).unwrap_or(1.0)});
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
pub fn metadata_from_config(
    cfg: &Value,
    path: &Path,
    has_tensor: &dyn Fn(&str) -> bool,
) -> Result<(String, Vec<(String, MetaValue)>)> {
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
        (
            k("attention.head_count_kv"),
            MetaValue::U32(cfg["num_key_value_heads"].as_u64().map(|v| v as u32).unwrap_or(heads)),
        ),
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
            m.push((
                k("rope.scaling.original_context_length"),
                MetaValue::U32(original_max_position_embeddings as u32),
            ));
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

fn deepseek_spec(cfg: &Value, path: &Path) -> Result<DeepseekSpec> {
    let generation =
        if cfg["architectures"][0].as_str() == Some("DeepseekV2ForCausalLM") { Generation::V2 } else { Generation::V3 };
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
        half_rope: spec.rope_layout == RopeLayout::Half,
    })
}

/// `deepseek2.*` keys as llama.cpp's convert_hf_to_gguf.py writes them for DeepseekV2/V3
/// (`DeepseekV2Model.set_gguf_parameters`), with every router setting written explicitly (its
/// defaults differ between V2 and V3 in transformers, not in llama.cpp).
fn deepseek_metadata_from_config(
    cfg: &Value,
    path: &Path,
    has_tensor: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, MetaValue)>> {
    let spec = deepseek_spec(cfg, path)?;
    let c = &spec.config;
    if spec.moe_layer_freq != 1 {
        return Err(ModelError::key(
            path,
            "moe_layer_freq",
            format!(
                "{} cannot be written to GGUF: llama.cpp's deepseek2 has MoE in every layer after leading_dense_block_count",
                spec.moe_layer_freq
            ),
        ));
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
        (
            k("expert_gating_func"),
            MetaValue::U32(match router.scoring_func {
                ScoringFunc::Softmax => 1,
                ScoringFunc::Sigmoid => 2,
            }),
        ),
        (k("rope.dimension_count"), MetaValue::U32(dr)),
    ];
    if nextn > 0 {
        m.push((k("nextn_predict_layers"), u(nextn)));
    }
    match spec.rope.scaling {
        crate::config::RopeScaling::None => {}
        crate::config::RopeScaling::Yarn {
            factor,
            original_max_position_embeddings,
            beta_fast,
            beta_slow,
            mscale_all_dim,
            ..
        } => {
            m.push((k("rope.scaling.type"), MetaValue::String("yarn".into())));
            m.push((k("rope.scaling.factor"), MetaValue::F32(factor as f32)));
            m.push((
                k("rope.scaling.original_context_length"),
                MetaValue::U32(original_max_position_embeddings as u32),
            ));
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
        _ => {
            return Err(ModelError::key(
                path,
                "rope_scaling",
                "only yarn or linear rope scaling can be written for DeepSeek",
            ));
        }
    }
    Ok(m)
}

/// config.json for a `deepseek2` GGUF (the inverse of `deepseek_metadata_from_config`; also
/// reads files from llama.cpp's converter, older ones without the `_mla` lengths included).
fn deepseek_config_from_metadata(
    meta: &Metadata,
    path: &Path,
    vocab_size: usize,
    has_tensor: &dyn Fn(&str) -> bool,
) -> Result<Value> {
    let k = |s: &str| format!("deepseek2.{s}");
    let need = |s: &str| meta_u(meta, &k(s), path);
    let opt_u = |s: &str| meta.get(&k(s)).and_then(|v| v.as_u64());
    let opt_f = |s: &str| meta_f(meta, &k(s));
    let heads = need("attention.head_count")?;
    let block_count = need("block_count")?;
    let nextn = opt_u("nextn_predict_layers").unwrap_or(0);
    if nextn >= block_count {
        return Err(ModelError::key(
            path,
            &k("nextn_predict_layers"),
            format!("{nextn} leaves no main blocks of block_count {block_count}"),
        ));
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
        return Err(ModelError::key(
            path,
            &k("attention.key_length_mla"),
            format!("{qk_head} must exceed rope.dimension_count ({rope_dim})"),
        ));
    }
    let q_lora_rank = opt_u("attention.q_lora_rank").filter(|&q| q > 0);
    let leading = opt_u("leading_dense_block_count").unwrap_or(0);
    // llama.cpp: no expert_gating_func means softmax (older V2 files).
    let sigmoid = opt_u("expert_gating_func") == Some(2);
    let n_group = opt_u("expert_group_count").unwrap_or(1).max(1);
    let topk_group = opt_u("expert_group_used_count").unwrap_or(n_group);
    let has_bias = has_tensor(&format!("blk.{leading}.exp_probs_b.bias"));
    let topk_method = if has_bias {
        "noaux_tc"
    } else if n_group > 1 {
        "group_limited_greedy"
    } else {
        "greedy"
    };
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
