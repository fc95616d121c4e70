//! Qwen2ForCausalLM (Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen): the dense transformer with a
//! bias on the q/k/v projections and optionally tied embeddings.

use super::dense::DenseTransformer;
use super::{DenseCommon, DenseVariant, dense_spec};
use crate::config::RawConfig;
use crate::error::Result;
use crate::formats::weights::VarPath;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Qwen2Config {
    #[serde(flatten)]
    pub common: DenseCommon,
}

pub fn load(raw: &RawConfig, root: &VarPath) -> Result<DenseTransformer> {
    let c: Qwen2Config = raw.parse()?;
    let variant = DenseVariant {
        architecture: "Qwen2ForCausalLM",
        qkv_bias: true,
        o_bias: false,
        qk_norm: false,
        mlp_bias: false,
        default_max_positions: 32768,
    };
    DenseTransformer::load(root, dense_spec(raw, &c.common, variant)?)
}
