//! DeepSeek-V2/V3's config.json: the keys as DeepSeek names them, each generation's defaults,
//! and the shapes and router settings they resolve to. It sits below `layers` and `formats` so
//! that the GGUF writer and reader use the same checked values as the forward pass.

use crate::config::{RawConfig, RopeConfig, RopeLayout, RopeScaling, yarn_mscale};
use crate::error::{ModelError, Result};
use serde::Deserialize;

/// config.json keys (DeepSeek's names). Optional MoE keys default as transformers' configs do,
/// per architecture (see `resolve`).
#[derive(Debug, Clone, Deserialize)]
pub struct DeepseekConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    pub max_position_embeddings: Option<usize>,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    pub hidden_act: Option<String>,
    #[serde(default)]
    pub attention_bias: bool,
    #[serde(default)]
    pub mlp_bias: bool,
    // MLA
    pub q_lora_rank: Option<usize>,
    pub kv_lora_rank: usize,
    pub qk_nope_head_dim: usize,
    pub qk_rope_head_dim: usize,
    pub v_head_dim: usize,
    pub rope_interleave: Option<bool>,
    // MoE
    #[serde(default)]
    pub first_k_dense_replace: usize,
    pub moe_layer_freq: Option<usize>,
    pub moe_intermediate_size: usize,
    pub n_routed_experts: usize,
    pub num_experts_per_tok: usize,
    pub n_shared_experts: Option<usize>,
    pub n_group: Option<usize>,
    pub topk_group: Option<usize>,
    pub topk_method: Option<String>,
    pub scoring_func: Option<String>,
    pub norm_topk_prob: Option<bool>,
    pub routed_scaling_factor: Option<f64>,
    // MTP
    #[serde(default)]
    pub num_nextn_predict_layers: usize,
}

fn default_eps() -> f64 {
    1e-6
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    V2,
    V3,
}

/// Shapes and switches derived from the config once it has been checked.
#[derive(Debug, Clone)]
pub struct DeepseekSpec {
    pub architecture: String,
    pub config: DeepseekConfig,
    pub mla: MlaShape,
    pub router: RouterSpec,
    pub rope: RopeConfig,
    pub rope_layout: RopeLayout,
    pub moe_layer_freq: usize,
    pub n_shared_experts: usize,
}

impl DeepseekSpec {
    /// Layers from `first_k_dense_replace` on (every `moe_layer_freq`-th) use MoE.
    pub fn is_moe_layer(&self, i: usize) -> bool {
        i >= self.config.first_k_dense_replace && i.is_multiple_of(self.moe_layer_freq)
    }
}

/// Check the config and fill in each generation's defaults. Errors name the key at fault.
pub fn resolve(raw: &RawConfig, generation: Generation) -> Result<DeepseekSpec> {
    let c: DeepseekConfig = raw.parse()?;
    let bad = |key: &str, msg: String| Err(ModelError::key(&raw.path, key, msg));
    let positive = [
        ("vocab_size", c.vocab_size),
        ("hidden_size", c.hidden_size),
        ("intermediate_size", c.intermediate_size),
        ("num_hidden_layers", c.num_hidden_layers),
        ("num_attention_heads", c.num_attention_heads),
        ("kv_lora_rank", c.kv_lora_rank),
        ("qk_rope_head_dim", c.qk_rope_head_dim),
        ("v_head_dim", c.v_head_dim),
        ("moe_intermediate_size", c.moe_intermediate_size),
        ("n_routed_experts", c.n_routed_experts),
        ("num_experts_per_tok", c.num_experts_per_tok),
    ];
    if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return bad(key, "must be positive".into());
    }
    use super::limits;
    super::check_ceilings(
        &raw.path,
        &[
            ("vocab_size", c.vocab_size, limits::VOCAB),
            ("hidden_size", c.hidden_size, limits::HIDDEN),
            ("intermediate_size", c.intermediate_size, limits::INTERMEDIATE),
            ("moe_intermediate_size", c.moe_intermediate_size, limits::INTERMEDIATE),
            ("num_hidden_layers", c.num_hidden_layers, limits::LAYERS),
            ("num_attention_heads", c.num_attention_heads, limits::HEADS),
            ("kv_lora_rank", c.kv_lora_rank, limits::HIDDEN),
            ("q_lora_rank", c.q_lora_rank.unwrap_or(0), limits::HIDDEN),
            ("qk_nope_head_dim", c.qk_nope_head_dim, limits::HEAD_DIM),
            ("qk_rope_head_dim", c.qk_rope_head_dim, limits::HEAD_DIM),
            ("v_head_dim", c.v_head_dim, limits::HEAD_DIM),
            ("n_routed_experts", c.n_routed_experts, limits::EXPERTS),
            ("num_experts_per_tok", c.num_experts_per_tok, limits::EXPERTS),
            ("n_shared_experts", c.n_shared_experts.unwrap_or(0), limits::EXPERTS),
            ("first_k_dense_replace", c.first_k_dense_replace, limits::LAYERS),
            ("num_nextn_predict_layers", c.num_nextn_predict_layers, limits::LAYERS),
            ("max_position_embeddings", c.max_position_embeddings.unwrap_or(0), limits::POSITIONS),
        ],
    )?;
    if c.q_lora_rank == Some(0) {
        return bad("q_lora_rank", "must be positive or null".into());
    }
    if !c.qk_rope_head_dim.is_multiple_of(2) {
        return bad("qk_rope_head_dim", format!("{} must be even (rope rotates pairs)", c.qk_rope_head_dim));
    }
    let act = c.hidden_act.as_deref().unwrap_or("silu");
    if act != "silu" {
        return bad("hidden_act", format!("`{act}` is not supported (only silu)"));
    }
    if c.mlp_bias {
        return bad("mlp_bias", "biases on DeepSeek MLPs are not supported".into());
    }
    let moe_layer_freq = c.moe_layer_freq.unwrap_or(1);
    if moe_layer_freq == 0 {
        return bad("moe_layer_freq", "must be at least 1".into());
    }
    // Router.
    let (e, k) = (c.n_routed_experts, c.num_experts_per_tok);
    if k > e {
        return bad("num_experts_per_tok", format!("{k} is more than n_routed_experts ({e})"));
    }
    let n_group = c.n_group.unwrap_or(1);
    if n_group == 0 || e % n_group != 0 {
        return bad("n_group", format!("{n_group} must be positive and divide n_routed_experts ({e})"));
    }
    let topk_group = c.topk_group.unwrap_or(n_group);
    if topk_group == 0 || topk_group > n_group {
        return bad("topk_group", format!("{topk_group} must be between 1 and n_group ({n_group})"));
    }
    let default_method = if generation == Generation::V3 { "noaux_tc" } else { "greedy" };
    let topk_method = match c.topk_method.as_deref().unwrap_or(default_method) {
        "greedy" => TopkMethod::Greedy,
        "group_limited_greedy" => TopkMethod::GroupLimitedGreedy,
        "noaux_tc" => TopkMethod::NoAuxTc,
        other => {
            return bad("topk_method", format!("`{other}` is not supported (greedy, group_limited_greedy, noaux_tc)"));
        }
    };
    if topk_method != TopkMethod::Greedy && topk_group * (e / n_group) < k {
        return bad(
            "topk_group",
            format!("{topk_group} groups of {} experts cannot hold num_experts_per_tok ({k})", e / n_group),
        );
    }
    let default_scoring = if generation == Generation::V3 { "sigmoid" } else { "softmax" };
    let scoring_func = match c.scoring_func.as_deref().unwrap_or(default_scoring) {
        "sigmoid" => ScoringFunc::Sigmoid,
        "softmax" => ScoringFunc::Softmax,
        other => return bad("scoring_func", format!("`{other}` is not supported (sigmoid, softmax)")),
    };
    let routed_scaling_factor = c.routed_scaling_factor.unwrap_or(1.0);
    if !(routed_scaling_factor.is_finite() && routed_scaling_factor > 0.0) {
        return bad("routed_scaling_factor", format!("{routed_scaling_factor} must be a positive number"));
    }
    let router = RouterSpec {
        n_routed_experts: e,
        num_experts_per_tok: k,
        n_group,
        topk_group,
        scoring_func,
        topk_method,
        norm_topk_prob: c.norm_topk_prob.unwrap_or(generation == Generation::V3),
        routed_scaling_factor,
    };
    // Attention: softmax scale qk_head_dim^-0.5, times m² under YaRN with mscale_all_dim.
    let rope = raw.rope()?;
    let mut softmax_scale = ((c.qk_nope_head_dim + c.qk_rope_head_dim) as f64).powf(-0.5);
    if let RopeScaling::Yarn { factor, mscale_all_dim: Some(m), .. } = rope.scaling
        && m != 0.0
    {
        let ms = yarn_mscale(factor, m);
        softmax_scale *= ms * ms;
    }
    let mla = MlaShape {
        hidden: c.hidden_size,
        n_heads: c.num_attention_heads,
        q_lora_rank: c.q_lora_rank,
        kv_lora_rank: c.kv_lora_rank,
        qk_nope_head_dim: c.qk_nope_head_dim,
        qk_rope_head_dim: c.qk_rope_head_dim,
        v_head_dim: c.v_head_dim,
        attention_bias: c.attention_bias,
        rms_eps: c.rms_norm_eps,
        softmax_scale,
    };
    // V2 always rotates interleaved pairs; V3 unless `rope_interleave: false`.
    let interleaved = generation == Generation::V2 || c.rope_interleave.unwrap_or(true);
    let rope_layout = if interleaved { RopeLayout::Interleaved } else { RopeLayout::Half };
    let architecture = match generation {
        Generation::V2 => "DeepseekV2ForCausalLM",
        Generation::V3 => "DeepseekV3ForCausalLM",
    };
    let n_shared_experts = c.n_shared_experts.unwrap_or(0);
    Ok(DeepseekSpec {
        architecture: architecture.into(),
        config: c,
        mla,
        router,
        rope,
        rope_layout,
        moe_layer_freq,
        n_shared_experts,
    })
}

/// The shapes of one multi-head latent attention block (`layers::mla`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MlaShape {
    pub hidden: usize,
    pub n_heads: usize,
    /// None: a plain q_proj (DeepSeek-V2-Lite); Some(r): q_a_proj → RMSNorm → q_b_proj.
    pub q_lora_rank: Option<usize>,
    pub kv_lora_rank: usize,
    pub qk_nope_head_dim: usize,
    pub qk_rope_head_dim: usize,
    pub v_head_dim: usize,
    /// Bias on q_a_proj, kv_a_proj_with_mqa and o_proj (`attention_bias`).
    pub attention_bias: bool,
    pub rms_eps: f64,
    /// qk_head_dim^-0.5, times YaRN's m² when the rope is scaled.
    pub softmax_scale: f64,
}

/// How router logits become affinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoringFunc {
    /// DeepSeek-V2: softmax over experts.
    Softmax,
    /// DeepSeek-V3: an independent sigmoid per expert.
    Sigmoid,
}

/// How experts are chosen from the affinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopkMethod {
    /// Plain top-k.
    Greedy,
    /// V2: keep the `topk_group` groups with the highest max affinity, then top-k inside them.
    GroupLimitedGreedy,
    /// V3: like the above, but on affinities plus `e_score_correction_bias`, and a group scores
    /// the sum of its top-2; the bias steers the choice only, weights use the raw affinities.
    NoAuxTc,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterSpec {
    pub n_routed_experts: usize,
    pub num_experts_per_tok: usize,
    pub n_group: usize,
    pub topk_group: usize,
    pub scoring_func: ScoringFunc,
    pub topk_method: TopkMethod,
    pub norm_topk_prob: bool,
    pub routed_scaling_factor: f64,
}
