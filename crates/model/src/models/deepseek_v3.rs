//! DeepseekV3ForCausalLM (DeepSeek-V3, R1) and DeepseekV2ForCausalLM (V2, V2-Lite):
//! x = embed(ids); per layer: x += MLA(norm(x)); x += FFN(norm(x)) with FFN a dense SwiGLU for
//! the first `first_k_dense_replace` layers and DeepSeekMoE after; logits = head(norm(x)).
//! Optional multi-token prediction (MTP) modules stored as layers num_hidden_layers.. draft the
//! token after next from the main model's hidden state and the next token's embedding.

use crate::causal_lm::{BatchLayout, CausalLm, LogitsFor, ModelInfo, MtpDraft, SeqInput, check_token_ids};
use crate::config::RawConfig;
pub use crate::config::deepseek::{DeepseekConfig, DeepseekSpec, Generation, resolve};
use crate::error::{ModelError, Result};
use crate::formats::safetensors::SafetensorsDir;
use crate::formats::weights::VarPath;
use crate::layers::attention::AttnBatch;
use crate::layers::embedding::Embedding;
use crate::layers::kv_cache::{LayerCache, SequenceCache};
use crate::layers::linear::Linear;
use crate::layers::mla::{AttnImpl, MlaAttention};
use crate::layers::mlp::SwiGlu;
use crate::layers::moe::Moe;
use crate::layers::norm::RmsNorm;
use crate::layers::rope::RotaryEmbedding;
use candle_core::Tensor;
use std::path::Path;
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

    fn forward(&self, x: &Tensor, batch: &mut AttnBatch<'_, '_>, attn_impl: AttnImpl) -> candle_core::Result<Tensor> {
        let attn = self.self_attn.forward(&self.input_layernorm.forward(x)?, batch, attn_impl)?;
        let x = (x + attn)?;
        let ffn = self.mlp.forward(&self.post_attention_layernorm.forward(&x)?)?;
        x + ffn
    }

    /// Weight bytes one token reads in this layer, as held in memory: attention, norms, and
    /// either the dense MLP or the router, the shared experts and `top_k` routed experts (of
    /// average size).
    fn bytes_per_token(&self, top_k: usize) -> u64 {
        let swiglu = |m: &SwiGlu| m.gate_proj.bytes() + m.up_proj.bytes() + m.down_proj.bytes();
        let norms = self.self_attn.norms().iter().map(|r| r.weight.elem_count() as u64).sum::<u64>()
            + (self.input_layernorm.weight.elem_count() + self.post_attention_layernorm.weight.elem_count()) as u64;
        let attn = self.self_attn.linears().into_iter().map(Linear::bytes).sum::<u64>();
        let ffn = match &self.mlp {
            FeedForward::Dense(m) => swiglu(m),
            FeedForward::Moe(moe) => {
                let experts = moe.experts.iter().map(swiglu).sum::<u64>();
                let routed = experts * top_k as u64 / moe.experts.len().max(1) as u64;
                routed + moe.shared_experts.as_ref().map_or(0, swiglu) + moe.gate.weight.elem_count() as u64 * 4
            }
        };
        attn + ffn + norms * 4
    }

    fn parameters(&self) -> u64 {
        let lin = |l: &Linear| l.parameters();
        let swiglu = |m: &SwiGlu| lin(&m.gate_proj) + lin(&m.up_proj) + lin(&m.down_proj);
        let mut n =
            (self.input_layernorm.weight.elem_count() + self.post_attention_layernorm.weight.elem_count()) as u64;
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
    pub embed_tokens: Embedding, // (vocab, hidden), DeepSeek stores a copy of the main table
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
    pub embed_tokens: Embedding, // (vocab, hidden)
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
    // Embedding and head kept packed where the source packs them (GGUF, bf16, --quantize), as in
    // the dense models: the head is the largest matrix a decode step reads.
    let embed_tokens = Embedding::load(&m.pp("embed_tokens"), c.vocab_size, h)?;
    let layers = (0..c.num_hidden_layers)
        .map(|i| DecoderLayer::load(&m.pp("layers").pp(i), &spec, spec.is_moe_layer(i)))
        .collect::<Result<Vec<_>>>()?;
    let norm = RmsNorm::load(&m.pp("norm"), h, eps)?;
    let lm_head = if root.contains("lm_head.weight") || !c.tie_word_embeddings {
        Linear::load(&root.pp("lm_head"), h, c.vocab_size, false)?
    } else {
        embed_tokens.as_linear()
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
        let own_embed = vp.contains("embed_tokens.weight");
        let own_head = vp.contains("shared_head.head.weight");
        mtp.push(MtpModule {
            embed_tokens: if own_embed {
                Embedding::load(&vp.pp("embed_tokens"), c.vocab_size, h)?
            } else {
                embed_tokens.clone()
            },
            enorm: RmsNorm::load(&vp.pp("enorm"), h, eps)?,
            hnorm: RmsNorm::load(&vp.pp("hnorm"), h, eps)?,
            eh_proj: Linear::load(&vp.pp("eh_proj"), 2 * h, h, false)?,
            layer: DecoderLayer::load(&vp, &spec, spec.is_moe_layer(i))?,
            head_norm: RmsNorm::load(&vp.pp("shared_head.norm"), h, eps)?,
            head: if own_head {
                Linear::load(&vp.pp("shared_head.head"), h, c.vocab_size, false)?
            } else {
                lm_head.clone()
            },
        });
    }
    Ok(DeepseekV3 { spec, embed_tokens, layers, norm, lm_head, rope, attn_impl: AttnImpl::Auto, mtp })
}

impl DeepseekV3 {
    /// Per sequence, the logits of the rows `which` picks and the final hidden states (after the
    /// final norm) of the rows `hidden_for` picks: the same rows for the MTP tests, every row
    /// for speculative decoding's draft (`MtpDraft::forward_with_all_hidden`).
    pub fn forward_with_hidden(
        &self,
        seqs: &mut [SeqInput<'_>],
        which: LogitsFor,
        hidden_for: LogitsFor,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        let (x, layout) = self.decoder_output(seqs)?;
        // Only the rows either list needs are normed; the norm acts on each row alone, so a row
        // comes out the same whichever rows are normed with it.
        let widest =
            if which == LogitsFor::All || hidden_for == LogitsFor::All { LogitsFor::All } else { LogitsFor::Last };
        let last_of = |h: &Tensor, len: usize| h.narrow(0, len - 1, 1);
        let mut logits = Vec::with_capacity(layout.seqs.len());
        let mut hidden = Vec::with_capacity(layout.seqs.len());
        for (rows, seq) in layout.select_rows(&x, widest)?.into_iter().zip(&layout.seqs) {
            let h = self.norm.forward(&rows)?;
            let for_logits = if which == widest { h.clone() } else { last_of(&h, seq.len)? };
            logits.push(self.lm_head.forward(&for_logits)?);
            hidden.push(if hidden_for == widest { h } else { last_of(&h, seq.len)? });
        }
        Ok((logits, hidden))
    }

    /// The last decoder layer's output for every new row, (n, hidden), before the final norm.
    fn decoder_output(&self, seqs: &mut [SeqInput<'_>]) -> Result<(Tensor, BatchLayout)> {
        check_token_ids(seqs, self.spec.config.vocab_size)?;
        let layout = BatchLayout::of(seqs);
        let ids: Vec<u32> = seqs.iter().flat_map(|s| s.tokens.iter().copied()).collect();
        let mut x = self.embed_tokens.forward(&ids)?; // (n, hidden)
        for (li, layer) in self.layers.iter().enumerate() {
            let mut caches: Vec<Option<&mut LayerCache>> =
                seqs.iter_mut().map(|s| s.cache.as_deref_mut().map(|c| &mut c.layers[li])).collect();
            let mut batch = AttnBatch { layout: &layout, caches: &mut caches, rope: &self.rope };
            x = layer.forward(&x, &mut batch, self.attn_impl)?;
        }
        Ok((x, layout))
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
            ModelError::Invalid(format!(
                "MTP depth {depth} requested but the checkpoint has {} MTP module(s)",
                self.mtp.len()
            ))
        })?;
        let (vocab, hsize) = (self.spec.config.vocab_size, self.spec.config.hidden_size);
        let mut layout = BatchLayout::default();
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
            layout.push(len, pos);
        }
        let ids: Vec<u32> = inputs.iter().flat_map(|s| s.next_tokens.iter().copied()).collect();
        let emb = module.embed_tokens.forward(&ids)?; // (n, hidden)
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
        let mut batch = AttnBatch { layout: &layout, caches: &mut caches, rope: &self.rope };
        let y = module.layer.forward(&x, &mut batch, self.attn_impl)?;
        let mut out = Vec::with_capacity(layout.seqs.len());
        for rows in layout.select_rows(&y, which)? {
            let logits = module.head.forward(&module.head_norm.forward(&rows)?)?;
            out.push(MtpOutput { logits, hidden: rows });
        }
        Ok(out)
    }

    fn parameters(&self) -> u64 {
        let c = &self.spec.config;
        let mut n = self.embed_tokens.parameters() + self.norm.weight.elem_count() as u64;
        if !c.tie_word_embeddings {
            n += self.lm_head.parameters();
        }
        n + self.layers.iter().map(DecoderLayer::parameters).sum::<u64>()
    }
}

/// The first MTP module as speculative decoding's draft (deeper modules are not used yet).
impl MtpDraft for DeepseekV3 {
    fn forward_with_all_hidden(
        &self,
        seqs: &mut [SeqInput<'_>],
        which: LogitsFor,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
        self.forward_with_hidden(seqs, which, LogitsFor::All)
    }

    fn new_draft_cache(&self) -> SequenceCache {
        self.new_mtp_cache()
    }

    fn draft_logits(
        &self,
        hidden: &Tensor,
        next_tokens: &[u32],
        cache: &mut SequenceCache,
        which: LogitsFor,
    ) -> Result<Tensor> {
        let mut inputs = [MtpInput { hidden, next_tokens, cache: Some(cache) }];
        let out = self.mtp_forward(0, &mut inputs, which)?;
        out.into_iter()
            .next()
            .map(|o| o.logits)
            .ok_or_else(|| ModelError::Invalid("MTP step returned no output".into()))
    }
}

impl CausalLm for DeepseekV3 {
    fn forward(&self, seqs: &mut [SeqInput<'_>], which: LogitsFor) -> Result<Vec<Tensor>> {
        Ok(self.forward_with_hidden(seqs, which, which)?.0)
    }

    fn mtp_draft(&self) -> Option<&dyn MtpDraft> {
        if self.mtp.is_empty() { None } else { Some(self) }
    }

    fn decode_weight_bytes(&self) -> Option<u64> {
        let top_k = self.spec.config.num_experts_per_tok;
        Some(
            self.layers.iter().map(|l| l.bytes_per_token(top_k)).sum::<u64>()
                + self.lm_head.bytes()
                + self.norm.weight.elem_count() as u64 * 4,
        )
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
        }
    }
}
