//! LlamaForCausalLM (Llama 3.x, DeepSeek-R1-Distill-Llama): the dense transformer with GQA and
//! Llama 3.1's rope scaling; biases only when `attention_bias` / `mlp_bias` say so.

use super::dense::{DenseSpec, DenseTransformer};
use super::{check_act, check_heads, DenseCommon};
use crate::config::RawConfig;
use crate::error::Result;
use crate::layers::attention::AttentionShape;
use crate::weights::VarPath;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct LlamaConfig {
    #[serde(flatten)]
    pub common: DenseCommon,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
}

pub fn load(raw: &RawConfig, root: &VarPath) -> Result<DenseTransformer> {
    let cfg: LlamaConfig = raw.parse()?;
    let c = &cfg.common;
    check_act(raw, &c.hidden_act)?;
    let head_dim = check_heads(raw, c)?;
    let spec = DenseSpec {
        architecture: "LlamaForCausalLM".into(),
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
            qk_norm: false,
            rms_eps: c.rms_norm_eps,
        },
        mlp_bias: cfg.mlp_bias,
        rms_norm_eps: c.rms_norm_eps,
        rope: raw.rope()?,
        max_position_embeddings: c.max_position_embeddings.unwrap_or(2048),
        tie_word_embeddings: c.tie_word_embeddings,
    };
    DenseTransformer::load(root, spec)
}
