//! Qwen3ForCausalLM: the dense transformer with RMSNorm on each head's queries and keys
//! (before RoPE), no qkv bias, and an explicit `head_dim` that need not be hidden / heads.

use super::dense::{DenseSpec, DenseTransformer};
use super::{check_act, check_heads, DenseCommon};
use crate::config::RawConfig;
use crate::error::Result;
use crate::layers::attention::AttentionShape;
use crate::weights::VarPath;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Qwen3Config {
    #[serde(flatten)]
    pub common: DenseCommon,
    #[serde(default)]
    pub attention_bias: bool,
}

pub fn load(raw: &RawConfig, root: &VarPath) -> Result<DenseTransformer> {
    let cfg: Qwen3Config = raw.parse()?;
    let c = &cfg.common;
    check_act(raw, &c.hidden_act)?;
    let head_dim = check_heads(raw, c)?;
    let spec = DenseSpec {
        architecture: "Qwen3ForCausalLM".into(),
        vocab_size: c.vocab_size,
        hidden_size: c.hidden_size,
        intermediate_size: c.intermediate_size,
        num_layers: c.num_hidden_layers,
        attention: AttentionShape {
            hidden: c.hidden_size,
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads.unwrap_or(c.num_attention_heads),
            head_dim,
            qkv_bias: cfg.attention_bias,
            o_bias: cfg.attention_bias,
            qk_norm: true,
            rms_eps: c.rms_norm_eps,
        },
        mlp_bias: false,
        rms_norm_eps: c.rms_norm_eps,
        rope: raw.rope()?,
        max_position_embeddings: c.max_position_embeddings.unwrap_or(40960),
        tie_word_embeddings: c.tie_word_embeddings,
    };
    DenseTransformer::load(root, spec)
}
