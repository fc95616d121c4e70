//! LlamaForCausalLM (Llama 3.x, DeepSeek-R1-Distill-Llama): the dense transformer with GQA and
//! Llama 3.1's rope scaling; biases only when `attention_bias` / `mlp_bias` say so.

use super::dense::DenseTransformer;
use super::{DenseCommon, DenseVariant, dense_spec};
use crate::config::RawConfig;
use crate::error::Result;
use crate::formats::weights::VarPath;
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
    let c: LlamaConfig = raw.parse()?;
    let variant = DenseVariant {
        architecture: "LlamaForCausalLM",
        qkv_bias: c.attention_bias,
        o_bias: c.attention_bias,
        qk_norm: false,
        mlp_bias: c.mlp_bias,
        default_max_positions: 2048,
    };
    DenseTransformer::load(root, dense_spec(raw, &c.common, variant)?)
}
