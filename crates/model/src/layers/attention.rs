//! Grouped-query attention (GQA): n_heads query heads share n_kv_heads key/value heads.
//! Used by Llama, Qwen2 (with qkv bias) and Qwen3 (with RMSNorm on q and k per head).

use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::kernels::attention;
use crate::layers::batch::{BatchLayout, SeqRows};
use crate::layers::kv_cache::LayerCache;
use crate::layers::linear::{Linear, forward_many};
use crate::layers::norm::RmsNorm;
use crate::layers::rope::RotaryEmbedding;
use crate::layers::softmax_last_dim;
use candle_core::{Device, Tensor};

#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub hidden: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub qkv_bias: bool,
    pub o_bias: bool,
    /// Qwen3: RMSNorm over each head's q and k before RoPE.
    pub qk_norm: bool,
    pub rms_eps: f64,
}

#[derive(Debug, Clone)]
pub struct GqaAttention {
    pub shape: AttentionShape,
    pub q_proj: Linear,
    pub k_proj: Linear,
    pub v_proj: Linear,
    pub o_proj: Linear,
    pub q_norm: Option<RmsNorm>,
    pub k_norm: Option<RmsNorm>,
}

impl GqaAttention {
    pub fn load(vp: &VarPath, s: AttentionShape) -> Result<Self> {
        let (q_out, kv_out) = (s.n_heads * s.head_dim, s.n_kv_heads * s.head_dim);
        let norm = |name: &str| -> Result<Option<RmsNorm>> {
            if s.qk_norm { Ok(Some(RmsNorm::load(&vp.pp(name), s.head_dim, s.rms_eps)?)) } else { Ok(None) }
        };
        Ok(Self {
            shape: s,
            q_proj: Linear::load(&vp.pp("q_proj"), s.hidden, q_out, s.qkv_bias)?,
            k_proj: Linear::load(&vp.pp("k_proj"), s.hidden, kv_out, s.qkv_bias)?,
            v_proj: Linear::load(&vp.pp("v_proj"), s.hidden, kv_out, s.qkv_bias)?,
            o_proj: Linear::load(&vp.pp("o_proj"), q_out, s.hidden, s.o_bias)?,
            q_norm: norm("q_norm")?,
            k_norm: norm("k_norm")?,
        })
    }

    /// x: (n, hidden) holding the tokens of several sequences back to back, laid out as
    /// `batch.layout` says, each with its cache in `batch.caches`.
    pub fn forward(&self, x: &Tensor, batch: &mut AttnBatch<'_, '_>) -> candle_core::Result<Tensor> {
        let (layout, rope) = (batch.layout, batch.rope);
        let s = self.shape;
        let n = x.dims()[0];
        // Projections run once over all sequences' tokens: this is where batching pays.
        let [q, k, v] = forward_many([&self.q_proj, &self.k_proj, &self.v_proj], x)?;
        let q = q.reshape((n, s.n_heads, s.head_dim))?;
        let k = k.reshape((n, s.n_kv_heads, s.head_dim))?;
        let v = v.reshape((n, s.n_kv_heads, s.head_dim))?;
        let (q, k) = match (&self.q_norm, &self.k_norm) {
            (Some(qn), Some(kn)) => (qn.forward(&q)?, kn.forward(&k)?),
            _ => (q, k),
        };
        let mut outs = Vec::with_capacity(layout.seqs.len());
        for (i, &SeqRows { row, len, pos }) in layout.seqs.iter().enumerate() {
            let q = rope.apply(&q.narrow(0, row, len)?, pos)?.transpose(0, 1)?.contiguous()?; // (h, len, d)
            let k = rope.apply(&k.narrow(0, row, len)?, pos)?.transpose(0, 1)?.contiguous()?; // (kv, len, d)
            let v = v.narrow(0, row, len)?.transpose(0, 1)?.contiguous()?;
            let (k, v) = match batch.caches.get_mut(i).and_then(|c| c.as_deref_mut()) {
                Some(cache) => {
                    let kv = cache.append(&[&k, &v])?;
                    (kv[0].clone(), kv[1].clone())
                }
                None => (k, v),
            };
            let out = attend(&q, &k, &v, pos, (s.head_dim as f64).powf(-0.5))?; // (h, len, d)
            outs.push(out.transpose(0, 1)?.reshape((len, s.n_heads * s.head_dim))?);
        }
        let out = Tensor::cat(&outs, 0)?;
        self.o_proj.forward(&out)
    }
}

/// What an attention block needs beside its input rows, the same for every layer of one forward
/// call: where each sequence's rows are, each sequence's cache for this layer (`None`: attend
/// over the new tokens only), and the rotary table.
pub struct AttnBatch<'a, 'c> {
    pub layout: &'a BatchLayout,
    pub caches: &'a mut [Option<&'c mut LayerCache>],
    pub rope: &'a RotaryEmbedding,
}

/// Causal scaled dot-product attention of one sequence.
/// q: (h, len, dq), k: (kv, t, dq), v: (kv, t, dv) with h a multiple of kv; the queries sit at
/// positions pos .. pos + len and the keys at 0 .. t (t = pos + len). Returns (h, len, dv).
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor, pos: usize, scale: f64) -> candle_core::Result<Tensor> {
    if let Some(out) = attention::attend(q, k, v, pos, scale)? {
        return Ok(out);
    }
    // An f16 cache is widened for the matmul form.
    let (k, v) = (&k.to_dtype(q.dtype())?, &v.to_dtype(q.dtype())?);
    let (h, len, dq) = q.dims3()?;
    let (kv, t, _) = k.dims3()?;
    let dv = v.dims()[2];
    let group = h / kv;
    // Each kv head serves `group` consecutive query heads: fold them into the row axis
    // instead of copying keys and values `group` times.
    let q = q.reshape((kv, group * len, dq))?;
    let scores = (q.matmul(&k.t()?)? * scale)?; // (kv, group*len, t)
    let scores = if len > 1 {
        let mask = causal_mask(len, t, pos)?;
        scores.reshape((kv, group, len, t))?.broadcast_add(&mask)?.reshape((kv, group * len, t))?
    } else {
        scores
    };
    let probs = softmax_last_dim(&scores)?;
    probs.matmul(v)?.reshape((h, len, dv))
}

/// Additive mask (len, t): query i (at position pos + i) sees keys 0 ..= pos + i.
pub fn causal_mask(len: usize, t: usize, pos: usize) -> candle_core::Result<Tensor> {
    let mask: Vec<f32> =
        (0..len).flat_map(|i| (0..t).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    Tensor::from_vec(mask, (len, t), &Device::Cpu)
}
