//! Qwen3ForCausalLM: the dense transformer with RMSNorm on each head's queries and keys
//! (before RoPE), no qkv bias, and an explicit `head_dim` that need not be hidden / heads.

use super::dense::DenseTransformer;
use super::{DenseCommon, DenseVariant, dense_spec};
use crate::config::RawConfig;
use crate::error::Result;
use crate::formats::weights::VarPath;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Qwen3Config {
    #[serde(flatten)]
    pub common: DenseCommon,
    #[serde(default)]
    pub attention_bias: bool,
}

pub fn load(raw: &RawConfig, root: &VarPath) -> Result<DenseTransformer> {
    let c: Qwen3Config = raw.parse()?;
    let variant = DenseVariant {
        architecture: "Qwen3ForCausalLM",
        qkv_bias: c.attention_bias,
        o_bias: c.attention_bias,
        qk_norm: true,
        mlp_bias: false,
        default_max_positions: 40960,
    };
    DenseTransformer::load(root, dense_spec(raw, &c.common, variant)?)
}
