//! One file per architecture, and the dispatch from config.json's `architectures[0]`.

pub mod deepseek_v3;
pub mod dense;
pub mod llama;
pub mod qwen2;
pub mod qwen3;

use crate::causal_lm::CausalLm;
use crate::config::RawConfig;
use crate::error::{ModelError, Result};
use crate::formats::weights::{VarPath, WeightSource};
use serde::Deserialize;

pub const SUPPORTED_ARCHITECTURES: &[&str] =
    &["Qwen2ForCausalLM", "LlamaForCausalLM", "Qwen3ForCausalLM", "DeepseekV3ForCausalLM", "DeepseekV2ForCausalLM"];

/// Build the model that `architectures[0]` names from the weights in `src`.
pub fn load_architecture(raw: &RawConfig, src: &dyn WeightSource) -> Result<Box<dyn CausalLm>> {
    let arch = raw.architecture()?;
    let root = VarPath::root(src);
    Ok(match arch.as_str() {
        "Qwen2ForCausalLM" => Box::new(qwen2::load(raw, &root)?),
        "LlamaForCausalLM" | "MistralForCausalLM" => Box::new(llama::load(raw, &root)?),
        "Qwen3ForCausalLM" => Box::new(qwen3::load(raw, &root)?),
        "DeepseekV3ForCausalLM" => Box::new(deepseek_v3::load(raw, &root, deepseek_v3::Generation::V3)?),
        "DeepseekV2ForCausalLM" => Box::new(deepseek_v3::load(raw, &root, deepseek_v3::Generation::V2)?),
        _ => {
            return Err(ModelError::UnknownArchitecture {
                path: raw.path.clone(),
                arch,
                supported: SUPPORTED_ARCHITECTURES.join(", "),
            });
        }
    })
}

/// The checks `load_architecture` makes on config.json, without reading a weight: for commands
/// that read the weights their own way (`quantize`), so a size the loader refuses is refused
/// there too instead of being multiplied into an allocation.
pub fn check_config(raw: &RawConfig) -> Result<()> {
    let arch = raw.architecture()?;
    match arch.as_str() {
        "DeepseekV3ForCausalLM" => deepseek_v3::resolve(raw, deepseek_v3::Generation::V3).map(drop),
        "DeepseekV2ForCausalLM" => deepseek_v3::resolve(raw, deepseek_v3::Generation::V2).map(drop),
        "Qwen2ForCausalLM" | "LlamaForCausalLM" | "MistralForCausalLM" | "Qwen3ForCausalLM" => {
            let c: DenseCommon = raw.parse()?;
            let variant = DenseVariant {
                architecture: "",
                qkv_bias: false,
                o_bias: false,
                qk_norm: false,
                mlp_bias: false,
                default_max_positions: 0,
            };
            dense_spec(raw, &c, variant).map(drop)
        }
        _ => Err(ModelError::UnknownArchitecture {
            path: raw.path.clone(),
            arch,
            supported: SUPPORTED_ARCHITECTURES.join(", "),
        }),
    }
}

/// config.json keys every dense family shares (names as in transformers).
#[derive(Debug, Clone, Deserialize)]
pub struct DenseCommon {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: Option<usize>,
    pub head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    pub max_position_embeddings: Option<usize>,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

/// What distinguishes the dense families beyond config.json's common keys.
pub(crate) struct DenseVariant {
    pub architecture: &'static str,
    pub qkv_bias: bool,
    pub o_bias: bool,
    pub qk_norm: bool,
    pub mlp_bias: bool,
    /// transformers' default when config.json has no `max_position_embeddings`.
    pub default_max_positions: usize,
}

/// Check the common keys and build the `DenseSpec` for one family.
pub(crate) fn dense_spec(raw: &RawConfig, c: &DenseCommon, v: DenseVariant) -> Result<dense::DenseSpec> {
    check_act(raw, &c.hidden_act)?;
    let head_dim = check_heads(raw, c)?;
    Ok(dense::DenseSpec {
        architecture: v.architecture.into(),
        vocab_size: c.vocab_size,
        hidden_size: c.hidden_size,
        intermediate_size: c.intermediate_size,
        num_layers: c.num_hidden_layers,
        attention: crate::layers::attention::AttentionShape {
            hidden: c.hidden_size,
            n_heads: c.num_attention_heads,
            n_kv_heads: c.num_key_value_heads.unwrap_or(c.num_attention_heads),
            head_dim,
            qkv_bias: v.qkv_bias,
            o_bias: v.o_bias,
            qk_norm: v.qk_norm,
            rms_eps: c.rms_norm_eps,
        },
        mlp_bias: v.mlp_bias,
        rms_norm_eps: c.rms_norm_eps,
        rope: raw.rope()?,
        max_position_embeddings: c.max_position_embeddings.unwrap_or(v.default_max_positions),
        tie_word_embeddings: c.tie_word_embeddings,
    })
}

fn default_eps() -> f64 {
    1e-6
}
fn default_act() -> String {
    "silu".into()
}

pub(crate) fn check_act(raw: &RawConfig, act: &str) -> Result<()> {
    if act != "silu" {
        return Err(ModelError::key(&raw.path, "hidden_act", format!("`{act}` is not supported (only silu)")));
    }
    Ok(())
}

/// Validate the head layout and return head_dim.
pub(crate) fn check_heads(raw: &RawConfig, c: &DenseCommon) -> Result<usize> {
    let p = &raw.path;
    if c.num_attention_heads == 0 || c.hidden_size == 0 || c.num_hidden_layers == 0 || c.vocab_size == 0 {
        return Err(ModelError::key(
            p,
            "num_attention_heads",
            "hidden_size, num_hidden_layers, num_attention_heads and vocab_size must be positive",
        ));
    }
    use crate::config::limits;
    let kv = c.num_key_value_heads.unwrap_or(c.num_attention_heads);
    crate::config::check_ceilings(
        p,
        &[
            ("num_hidden_layers", c.num_hidden_layers, limits::LAYERS),
            ("hidden_size", c.hidden_size, limits::HIDDEN),
            ("intermediate_size", c.intermediate_size, limits::INTERMEDIATE),
            ("num_attention_heads", c.num_attention_heads, limits::HEADS),
            ("num_key_value_heads", kv, limits::HEADS),
            ("head_dim", c.head_dim.unwrap_or(0), limits::HEAD_DIM),
            ("vocab_size", c.vocab_size, limits::VOCAB),
            ("max_position_embeddings", c.max_position_embeddings.unwrap_or(0), limits::POSITIONS),
        ],
    )?;
    if c.intermediate_size == 0 {
        return Err(ModelError::key(p, "intermediate_size", "must be positive"));
    }
    if !(c.rms_norm_eps.is_finite() && c.rms_norm_eps >= 0.0) {
        return Err(ModelError::key(p, "rms_norm_eps", format!("{} must be a finite number ≥ 0", c.rms_norm_eps)));
    }
    if kv == 0 || !c.num_attention_heads.is_multiple_of(kv) {
        return Err(ModelError::key(
            p,
            "num_key_value_heads",
            format!("{kv} must divide num_attention_heads ({})", c.num_attention_heads),
        ));
    }
    let head_dim = match c.head_dim {
        Some(d) => d,
        None if c.hidden_size.is_multiple_of(c.num_attention_heads) => c.hidden_size / c.num_attention_heads,
        None => {
            return Err(ModelError::key(
                p,
                "hidden_size",
                format!("{} is not divisible by num_attention_heads ({})", c.hidden_size, c.num_attention_heads),
            ));
        }
    };
    if head_dim == 0 || head_dim % 2 != 0 {
        return Err(ModelError::key(p, "head_dim", format!("{head_dim} must be a positive even number")));
    }
    Ok(head_dim)
}
