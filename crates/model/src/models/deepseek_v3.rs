//! DeepseekV3ForCausalLM (DeepSeek-V3, R1) and DeepseekV2ForCausalLM (V2, V2-Lite):
//! x = embed(ids); per layer: x += MLA(norm(x)); x += FFN(norm(x)) with FFN a dense SwiGLU for
//! the first `first_k_dense_replace` layers and DeepSeekMoE after; logits = head(norm(x)).
//! Optional multi-token prediction (MTP) modules stored as layers num_hidden_layers.. draft the
//! token after next from the main model's hidden state and the next token's embedding.

use crate::causal_lm::{batch_spans, check_token_ids, select_rows, CausalLm, LogitsFor, ModelInfo, MtpDraft, SeqInput};
use crate::config::{RawConfig, RopeConfig, RopeScaling};
use crate::error::{ModelError, Result};
use crate::layers::kv_cache::{LayerCache, SequenceCache};
use crate::layers::linear::Linear;
use crate::layers::mla::{AttnImpl, MlaAttention, MlaShape};
use crate::layers::mlp::SwiGlu;
use crate::layers::moe::{Moe, RouterSpec, ScoringFunc, TopkMethod};
use crate::layers::norm::RmsNorm;
use crate::layers::rope::{yarn_mscale, RopeLayout, RotaryEmbedding};
use crate::weights::{SafetensorsDir, VarPath};
use candle_core::{Device, Tensor};
use serde::Deserialize;
use std::path::Path;

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
        other => return bad("topk_method", format!("`{other}` is not supported (greedy, group_limited_greedy, noaux_tc)")),
    };
    if topk_method != TopkMethod::Greedy && topk_group * (e / n_group) < k {
        return bad("topk_group", format!("{topk_group} groups of {} experts cannot hold num_experts_per_tok ({k})", e / n_group));
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
    Ok(DeepseekSpec { architecture: architecture.into(), config: c, mla, router, rope, rope_layout, moe_layer_freq, n_shared_experts })
}

#[derive(Debug, Clone)]
pub enum FeedForward {
    Dense(SwiGlu),
    Moe(Moe),
}

impl FeedForward {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            FeedForward::Dense(mlp) => mlp.forward(x),
            FeedForward::Moe(moe) => moe.forward(x),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DecoderLayer {
    pub input_layernorm: RmsNorm,
    pub self_attn: MlaAttention,
    pub post_attention_layernorm: RmsNorm,
    pub mlp: FeedForward,
}

impl DecoderLayer {
    fn load(vp: &VarPath, spec: &DeepseekSpec, moe: bool) -> Result<Self> {
        let c = &spec.config;
        let (h, eps) = (c.hidden_size, c.rms_norm_eps);
        let mlp = if moe {
            FeedForward::Moe(Moe::load(&vp.pp("mlp"), h, c.moe_intermediate_size, spec.n_shared_experts, spec.router)?)
        } else {
            FeedForward::Dense(SwiGlu::load(&vp.pp("mlp"), h, c.intermediate_size, false)?)
        };
        Ok(Self {
            input_layernorm: RmsNorm::load(&vp.pp("input_layernorm"), h, eps)?,
            self_attn: MlaAttention::load(&vp.pp("self_attn"), spec.mla)?,
            post_attention_layernorm: RmsNorm::load(&vp.pp("post_attention_layernorm"), h, eps)?,
            mlp,
        })
    }

    fn forward(
        &self,
        x: &Tensor,
        spans: &[(usize, usize, usize)],
        caches: &mut [Option<&mut LayerCache>],
        rope: &RotaryEmbedding,
        attn_impl: AttnImpl,
    ) -> candle_core::Result<Tensor> {
        let attn = self.self_attn.forward(&self.input_layernorm.forward(x)?, spans, caches, rope, attn_impl)?;
        let x = (x + attn)?;
        let ffn = self.mlp.forward(&self.post_attention_layernorm.forward(&x)?)?;
        x + ffn
    }

    fn parameters(&self) -> u64 {
        let lin = |l: &Linear| l.parameters();
        let swiglu = |m: &SwiGlu| lin(&m.gate_proj) + lin(&m.up_proj) + lin(&m.down_proj);
        let mut n = (self.input_layernorm.weight.elem_count() + self.post_attention_layernorm.weight.elem_count()) as u64;
        n += self.self_attn.linears().into_iter().map(lin).sum::<u64>();
        n += self.self_attn.norms().iter().map(|r| r.weight.elem_count() as u64).sum::<u64>();
        n += match &self.mlp {
            FeedForward::Dense(m) => swiglu(m),
            FeedForward::Moe(moe) => {
                let bias = moe.gate.e_score_correction_bias.as_ref().map_or(0, |b| b.len());
                moe.experts.iter().map(swiglu).sum::<u64>()
                    + moe.shared_experts.as_ref().map_or(0, swiglu)
                    + (moe.gate.weight.elem_count() + bias) as u64
            }
        };
        n
    }
}

/// One multi-token-prediction module (DeepSeek-V3 §2.2): from the hidden state h_i of depth
/// k-1 and the embedding of token t_{i+k}, predict token t_{i+k+1}.
#[derive(Debug, Clone)]
pub struct MtpModule {
    pub embed_tokens: Tensor, // (vocab, hidden), DeepSeek stores a copy of the main table
    pub enorm: RmsNorm,
    pub hnorm: RmsNorm,
    pub eh_proj: Linear, // (hidden, 2 * hidden)
    pub layer: DecoderLayer,
    pub head_norm: RmsNorm, // shared_head.norm
    pub head: Linear,       // shared_head.head
}

/// New positions of one sequence for an MTP step.
pub struct MtpInput<'a> {
    /// Hidden states of positions p .. p+len, (len, hidden): for depth 0 the main model's,
    /// after its final norm (`forward_with_hidden`); for depth k the previous depth's `hidden`.
    pub hidden: &'a Tensor,
    /// The token following each of those positions, t[p+1 ..= p+len] (depth 0).
    pub next_tokens: &'a [u32],
    /// A cache from `new_mtp_cache`, holding this depth's positions 0 .. p; None scores the
    /// whole sequence at once.
    pub cache: Option<&'a mut SequenceCache>,
}

#[derive(Debug, Clone)]
pub struct MtpOutput {
    /// (1, vocab) for `Last`, (len, vocab) for `All`: logits of the token after `next_tokens`.
    pub logits: Tensor,
    /// The module's output before `shared_head.norm`, same rows: the next depth's input.
    pub hidden: Tensor,
}

#[derive(Debug, Clone)]
pub struct DeepseekV3 {
    pub spec: DeepseekSpec,
    pub embed_tokens: Tensor, // (vocab, hidden)
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
    pub lm_head: Linear,
    pub rope: RotaryEmbedding,
    /// Naive, absorbed, or chosen per call by cost (default).
    pub attn_impl: AttnImpl,
    /// MTP modules, empty when the checkpoint has none.
    pub mtp: Vec<MtpModule>,
}

/// Load a Hugging Face directory holding a DeepSeek-V2/V3 checkpoint as the concrete type
/// (what speculative decoding needs: `forward_with_hidden` and `mtp_forward`).
pub fn open(dir: &Path) -> Result<DeepseekV3> {
    let raw = RawConfig::read(&dir.join("config.json"))?;
    let generation = match raw.architecture()?.as_str() {
        "DeepseekV2ForCausalLM" => Generation::V2,
        _ => Generation::V3,
    };
    let weights = SafetensorsDir::open(dir)?;
    load(&raw, &VarPath::root(&weights), generation)
}

pub fn load(raw: &RawConfig, root: &VarPath, generation: Generation) -> Result<DeepseekV3> {
    let spec = resolve(raw, generation)?;
    let c = &spec.config;
    let (h, eps) = (c.hidden_size, c.rms_norm_eps);
    let m = root.pp("model");
    let embed_tokens = m.get("embed_tokens.weight", &[c.vocab_size, h])?;
    let layers = (0..c.num_hidden_layers)
        .map(|i| DecoderLayer::load(&m.pp("layers").pp(i), &spec, spec.is_moe_layer(i)))
        .collect::<Result<Vec<_>>>()?;
    let norm = RmsNorm::load(&m.pp("norm"), h, eps)?;
    let lm_head = match root.get_optional("lm_head.weight", &[c.vocab_size, h])? {
        Some(w) => Linear::from_tensor(w),
        None if c.tie_word_embeddings => Linear::from_tensor(embed_tokens.clone()),
        None => Linear::load(&root.pp("lm_head"), h, c.vocab_size, false)?,
    };
    let table = c.max_position_embeddings.unwrap_or(4096).clamp(1, 8192);
    let rope = RotaryEmbedding::new(&spec.rope, c.qk_rope_head_dim, table, spec.rope_layout)?;
    // MTP modules follow the main layers; a checkpoint without them still loads.
    let mut mtp = Vec::new();
    for k in 0..c.num_nextn_predict_layers {
        let i = c.num_hidden_layers + k;
        let vp = m.pp("layers").pp(i);
        if !vp.contains("eh_proj.weight") {
            break;
        }
        let own_embed = vp.get_optional("embed_tokens.weight", &[c.vocab_size, h])?;
        let own_head = vp.get_optional("shared_head.head.weight", &[c.vocab_size, h])?;
        mtp.push(MtpModule {
            embed_tokens: own_embed.unwrap_or_else(|| embed_tokens.clone()),
            enorm: RmsNorm::load(&vp.pp("enorm"), h, eps)?,
            hnorm: RmsNorm::load(&vp.pp("hnorm"), h, eps)?,
            eh_proj: Linear::load(&vp.pp("eh_proj"), 2 * h, h, false)?,
            layer: DecoderLayer::load(&vp, &spec, spec.is_moe_layer(i))?,
            head_norm: RmsNorm::load(&vp.pp("shared_head.norm"), h, eps)?,
            head: own_head.map(Linear::from_tensor).unwrap_or_else(|| lm_head.clone()),
        });
    }
    Ok(DeepseekV3 { spec, embed_tokens, layers, norm, lm_head, rope, attn_impl: AttnImpl::Auto, mtp })
}

/// (start row, rows, first position) per sequence, as `batch_spans` lays a batch out.
type Spans = Vec<(usize, usize, usize)>;

impl DeepseekV3 {
    /// Logits and the final hidden states (after the final norm) of the same rows.
    pub fn forward_with_hidden(&self, seqs: &mut [SeqInput<'_>], which: LogitsFor) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let (x, spans) = self.decoder_output(seqs)?;
        let mut logits = Vec::with_capacity(spans.len());
        let mut hidden = Vec::with_capacity(spans.len());
        for rows in select_rows(&x, &spans, which)? {
            let h = self.norm.forward(&rows)?;
            logits.push(self.lm_head.forward(&h)?);
            hidden.push(h);
        }
        Ok((logits, hidden))
    }

    /// The last decoder layer's output for every new row, (n, hidden), before the final norm.
    fn decoder_output(&self, seqs: &mut [SeqInput<'_>]) -> Result<(Tensor, Spans)> {
        check_token_ids(seqs, self.spec.config.vocab_size)?;
        let spans = batch_spans(seqs);
        let ids: Vec<u32> = seqs.iter().flat_map(|s| s.tokens.iter().copied()).collect();
        let ids = Tensor::new(ids.as_slice(), &Device::Cpu)?;
        let mut x = self.embed_tokens.index_select(&ids, 0)?; // (n, hidden)
        for (li, layer) in self.layers.iter().enumerate() {
            let mut caches: Vec<Option<&mut LayerCache>> =
                seqs.iter_mut().map(|s| s.cache.as_deref_mut().map(|c| &mut c.layers[li])).collect();
            x = layer.forward(&x, &spans, &mut caches, &self.rope, self.attn_impl)?;
        }
        Ok((x, spans))
    }

    /// Number of MTP modules loaded (0 when the checkpoint has none).
    pub fn mtp_depth(&self) -> usize {
        self.mtp.len()
    }

    /// A cache for the MTP modules: one latent layer cache per depth.
    pub fn new_mtp_cache(&self) -> SequenceCache {
        SequenceCache::new(self.mtp.len())
    }

    /// One MTP step at `depth` for several sequences: x = eh_proj([enorm(E[t_next]) | hnorm(h)]),
    /// y = decoder layer (causal over this depth's positions), logits = head(norm(y)).
    pub fn mtp_forward(&self, depth: usize, inputs: &mut [MtpInput<'_>], which: LogitsFor) -> Result<Vec<MtpOutput>> {
        let module = self.mtp.get(depth).ok_or_else(|| {
            ModelError::Invalid(format!("MTP depth {depth} requested but the checkpoint has {} MTP module(s)", self.mtp.len()))
        })?;
        let (vocab, hsize) = (self.spec.config.vocab_size, self.spec.config.hidden_size);
        let mut spans = Vec::with_capacity(inputs.len());
        let mut row = 0;
        for inp in inputs.iter() {
            let len = inp.next_tokens.len();
            if len == 0 || inp.hidden.dims() != [len, hsize] {
                return Err(ModelError::Invalid(format!(
                    "MTP input: hidden states {:?} do not match {len} next tokens of width {hsize}",
                    inp.hidden.dims()
                )));
            }
            if let Some(&id) = inp.next_tokens.iter().find(|&&id| id as usize >= vocab) {
                return Err(ModelError::TokenOutOfRange { id, vocab_size: vocab });
            }
            let pos = inp.cache.as_ref().and_then(|c| c.layers.get(depth)).map_or(0, |l| l.len());
            spans.push((row, len, pos));
            row += len;
        }
        let ids: Vec<u32> = inputs.iter().flat_map(|s| s.next_tokens.iter().copied()).collect();
        let emb = module.embed_tokens.index_select(&Tensor::new(ids.as_slice(), &Device::Cpu)?, 0)?; // (n, hidden)
        let h = Tensor::cat(&inputs.iter().map(|s| s.hidden).collect::<Vec<_>>(), 0)?; // (n, hidden)
        let x = Tensor::cat(&[module.enorm.forward(&emb)?, module.hnorm.forward(&h)?], 1)?; // (n, 2 hidden)
        let x = module.eh_proj.forward(&x)?; // (n, hidden)
        let mut caches = Vec::with_capacity(inputs.len());
        for inp in inputs.iter_mut() {
            caches.push(match inp.cache.as_deref_mut() {
                Some(c) => Some(c.layers.get_mut(depth).ok_or_else(|| {
                    ModelError::Invalid("MTP cache has fewer layers than MTP depths; make it with new_mtp_cache".into())
                })?),
                None => None,
            });
        }
        let y = module.layer.forward(&x, &spans, &mut caches, &self.rope, self.attn_impl)?;
        let mut out = Vec::with_capacity(spans.len());
        for rows in select_rows(&y, &spans, which)? {
            let logits = module.head.forward(&module.head_norm.forward(&rows)?)?;
            out.push(MtpOutput { logits, hidden: rows });
        }
        Ok(out)
    }

    fn parameters(&self) -> u64 {
        let c = &self.spec.config;
        let mut n = (self.embed_tokens.elem_count() + self.norm.weight.elem_count()) as u64;
        if !c.tie_word_embeddings {
            n += self.lm_head.parameters();
        }
        n + self.layers.iter().map(DecoderLayer::parameters).sum::<u64>()
    }
}

/// The first MTP module as speculative decoding's draft (deeper modules are not used yet).
impl MtpDraft for DeepseekV3 {
    fn forward_with_all_hidden(&self, seqs: &mut [SeqInput<'_>], which: LogitsFor) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let (x, spans) = self.decoder_output(seqs)?;
        let hidden = self.norm.forward(&x)?; // (n, hidden)
        let mut logits = Vec::with_capacity(spans.len());
        let mut states = Vec::with_capacity(spans.len());
        for (rows, &(row, len, _)) in select_rows(&hidden, &spans, which)?.into_iter().zip(&spans) {
            logits.push(self.lm_head.forward(&rows)?);
            states.push(hidden.narrow(0, row, len)?);
        }
        Ok((logits, states))
    }

    fn new_draft_cache(&self) -> SequenceCache {
        self.new_mtp_cache()
    }

    fn draft_logits(&self, hidden: &Tensor, next_tokens: &[u32], cache: &mut SequenceCache, which: LogitsFor) -> Result<Tensor> {
        let mut inputs = [MtpInput { hidden, next_tokens, cache: Some(cache) }];
        let out = self.mtp_forward(0, &mut inputs, which)?;
        out.into_iter().next().map(|o| o.logits).ok_or_else(|| ModelError::Invalid("MTP step returned no output".into()))
    }
}

impl CausalLm for DeepseekV3 {
    fn forward(&self, seqs: &mut [SeqInput<'_>], which: LogitsFor) -> Result<Vec<Tensor>> {
        Ok(self.forward_with_hidden(seqs, which)?.0)
    }

    fn mtp_draft(&self) -> Option<&dyn MtpDraft> {
        if self.mtp.is_empty() { None } else { Some(self) }
    }

    fn new_cache(&self) -> SequenceCache {
        SequenceCache::new(self.layers.len())
    }

    /// Parameters of the main model (MTP modules not counted, as DeepSeek's 671B).
    fn info(&self) -> ModelInfo {
        let c = &self.spec.config;
        let layers = c.num_hidden_layers;
        let latent = c.kv_lora_rank + c.qk_rope_head_dim;
        let mha = c.num_attention_heads * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim);
        ModelInfo {
            architecture: self.spec.architecture.clone(),
            parameters: self.parameters(),
            layers,
            hidden_size: c.hidden_size,
            vocab_size: c.vocab_size,
            max_positions: c.max_position_embeddings.unwrap_or(4096),
            kv_cache_bytes_per_token: (latent * layers * 4) as u64,
            mha_kv_cache_bytes_per_token: (mha * layers * 4) as u64,
            kv_cache_values_per_token_per_layer: latent as u64,
            decode_weight_bytes_per_token: None,
        }
    }
}
