//! The dense decoder-only transformer that Llama, Qwen2 and Qwen3 share:
//! x = embed(ids); per layer: x += attn(norm(x)); x += mlp(norm(x)); logits = head(norm(x)).
//! The architecture files only map their config.json onto `DenseSpec`.

use crate::causal_lm::{BatchLayout, CausalLm, LogitsFor, ModelInfo, SeqInput, check_token_ids};
use crate::config::RopeConfig;
use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::layers::attention::{AttentionShape, AttnBatch, GqaAttention};
use crate::layers::embedding::Embedding;
use crate::layers::kv_cache::{KvDtype, LayerCache, SequenceCache};
use crate::layers::linear::Linear;
use crate::layers::mlp::SwiGlu;
use crate::layers::norm::RmsNorm;
use crate::layers::rope::{RopeLayout, RotaryEmbedding};
use candle_core::Tensor;

#[derive(Debug, Clone)]
pub struct DenseSpec {
    pub architecture: String,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub attention: AttentionShape,
    pub mlp_bias: bool,
    pub rms_norm_eps: f64,
    pub rope: RopeConfig,
    pub max_position_embeddings: usize,
    pub tie_word_embeddings: bool,
}

#[derive(Debug, Clone)]
pub struct DecoderLayer {
    pub input_layernorm: RmsNorm,
    pub self_attn: GqaAttention,
    pub post_attention_layernorm: RmsNorm,
    pub mlp: SwiGlu,
}

#[derive(Debug, Clone)]
pub struct DenseTransformer {
    pub spec: DenseSpec,
    pub embed_tokens: Embedding, // (vocab, hidden)
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
    pub lm_head: Linear,
    pub rope: RotaryEmbedding,
}

impl DenseTransformer {
    pub fn load(root: &VarPath, spec: DenseSpec) -> Result<Self> {
        let m = root.pp("model");
        let (h, eps) = (spec.hidden_size, spec.rms_norm_eps);
        let embed_tokens = Embedding::load(&m.pp("embed_tokens"), spec.vocab_size, h)?;
        let mut layers = Vec::with_capacity(spec.num_layers);
        for i in 0..spec.num_layers {
            let l = m.pp("layers").pp(i);
            layers.push(DecoderLayer {
                input_layernorm: RmsNorm::load(&l.pp("input_layernorm"), h, eps)?,
                self_attn: GqaAttention::load(&l.pp("self_attn"), spec.attention)?,
                post_attention_layernorm: RmsNorm::load(&l.pp("post_attention_layernorm"), h, eps)?,
                mlp: SwiGlu::load(&l.pp("mlp"), h, spec.intermediate_size, spec.mlp_bias)?,
            });
        }
        let norm = RmsNorm::load(&m.pp("norm"), h, eps)?;
        // Tied checkpoints usually omit lm_head.weight; use it when present all the same.
        let lm_head = if root.contains("lm_head.weight") || !spec.tie_word_embeddings {
            Linear::load(&root.pp("lm_head"), h, spec.vocab_size, false)?
        } else {
            embed_tokens.as_linear()
        };
        let rotary_dim = (spec.attention.head_dim as f64 * spec.rope.partial_rotary_factor) as usize;
        let table = spec.max_position_embeddings.clamp(1, 8192);
        let rope = RotaryEmbedding::new(&spec.rope, rotary_dim, table, RopeLayout::Half)?;
        Ok(Self { spec, embed_tokens, layers, norm, lm_head, rope })
    }
}

impl CausalLm for DenseTransformer {
    fn forward(&self, seqs: &mut [SeqInput<'_>], which: LogitsFor) -> Result<Vec<Tensor>> {
        check_token_ids(seqs, self.spec.vocab_size)?;
        let layout = BatchLayout::of(seqs);
        let ids: Vec<u32> = seqs.iter().flat_map(|s| s.tokens.iter().copied()).collect();
        let mut x = self.embed_tokens.forward(&ids)?; // (n, hidden)
        for (li, layer) in self.layers.iter().enumerate() {
            let mut caches: Vec<Option<&mut LayerCache>> =
                seqs.iter_mut().map(|s| s.cache.as_deref_mut().map(|c| &mut c.layers[li])).collect();
            let mut batch = AttnBatch { layout: &layout, caches: &mut caches, rope: &self.rope };
            let attn = layer.self_attn.forward(&layer.input_layernorm.forward(&x)?, &mut batch)?;
            x = (x + attn)?;
            let mlp = layer.mlp.forward(&layer.post_attention_layernorm.forward(&x)?)?;
            x = (x + mlp)?;
        }
        let rows = layout.select_rows(&x, which)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.lm_head.forward(&self.norm.forward(&r)?)?);
        }
        Ok(out)
    }

    fn new_cache(&self) -> SequenceCache {
        SequenceCache::new(self.spec.num_layers)
    }

    fn new_cache_with(&self, dtype: KvDtype) -> SequenceCache {
        SequenceCache::with_dtype(self.spec.num_layers, dtype)
    }

    fn info(&self) -> ModelInfo {
        let s = &self.spec;
        let a = &s.attention;
        let mut params = self.embed_tokens.parameters() + self.norm.weight.elem_count() as u64;
        if !s.tie_word_embeddings {
            params += self.lm_head.parameters();
        }
        for l in &self.layers {
            let at = &l.self_attn;
            for lin in
                [&at.q_proj, &at.k_proj, &at.v_proj, &at.o_proj, &l.mlp.gate_proj, &l.mlp.up_proj, &l.mlp.down_proj]
            {
                params += lin.parameters();
            }
            params += 2 * s.hidden_size as u64;
            if a.qk_norm {
                params += 2 * a.head_dim as u64;
            }
        }
        let per_layer = 2 * a.n_kv_heads * a.head_dim;
        ModelInfo {
            architecture: s.architecture.clone(),
            parameters: params,
            layers: s.num_layers,
            hidden_size: s.hidden_size,
            vocab_size: s.vocab_size,
            max_positions: s.max_position_embeddings,
            kv_cache_bytes_per_token: (per_layer * s.num_layers * 4) as u64,
            mha_kv_cache_bytes_per_token: (2 * a.n_heads * a.head_dim * s.num_layers * 4) as u64,
            kv_cache_values_per_token_per_layer: per_layer as u64,
        }
    }

    fn decode_weight_bytes(&self) -> Option<u64> {
        let s = &self.spec;
        let norms = (s.hidden_size * (2 * s.num_layers + 1) * 4) as u64;
        let layers = self
            .layers
            .iter()
            .map(|l| {
                let at = &l.self_attn;
                [&at.q_proj, &at.k_proj, &at.v_proj, &at.o_proj, &l.mlp.gate_proj, &l.mlp.up_proj, &l.mlp.down_proj]
                    .iter()
                    .map(|lin| lin.bytes())
                    .sum::<u64>()
            })
            .sum::<u64>();
        Some(self.lm_head.bytes() + norms + layers)
    }
}
