//! Multi-head Latent Attention (DeepSeek-V2/V3). Keys and values of all heads are compressed
//! into one latent c_kv (kv_lora_rank numbers) per token plus one rope key k_pe shared by all
//! heads; only (c_kv, k_pe) is cached. Two ways to attend, chosen by `AttnImpl` as DeepSeek's
//! `attn_impl = "naive" | "absorb"`: decompress k/v with kv_b_proj (naive), or fold kv_b_proj's
//! key part into the query and its value part into the output (absorbed).

pub use crate::config::deepseek::MlaShape;
use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::layers::attention::{AttnBatch, attend, causal_mask};
use crate::layers::batch::SeqRows;
use crate::layers::linear::Linear;
use crate::layers::norm::RmsNorm;
use crate::layers::softmax_last_dim;
use candle_core::Tensor;

/// Which form of attention to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttnImpl {
    /// Decompress every cached latent into per-head keys and values.
    Naive,
    /// Attend in latent space with the up-projections absorbed.
    Absorb,
    /// Per sequence, whichever costs fewer multiply-adds: naive for long prefill chunks,
    /// absorbed for decoding and short chunks over a long cache.
    Auto,
}

#[derive(Debug, Clone)]
pub enum QueryProj {
    Plain { q_proj: Linear },
    LowRank { q_a_proj: Linear, q_a_layernorm: RmsNorm, q_b_proj: Linear },
}

#[derive(Debug, Clone)]
pub struct MlaAttention {
    pub shape: MlaShape,
    pub query: QueryProj,
    pub kv_a_proj_with_mqa: Linear, // (kv_lora_rank + qk_rope_head_dim, hidden)
    pub kv_a_layernorm: RmsNorm,
    pub kv_b_proj: Linear, // (n_heads * (qk_nope_head_dim + v_head_dim), kv_lora_rank)
    pub o_proj: Linear,    // (hidden, n_heads * v_head_dim)
    /// kv_b_proj's key part per head, W_UK: (h, nope, kv_lora_rank).
    w_uk: Tensor,
    /// kv_b_proj's value part per head, transposed, W_UVᵀ: (h, kv_lora_rank, v).
    w_uv_t: Tensor,
}

impl MlaAttention {
    pub fn load(vp: &VarPath, s: MlaShape) -> Result<Self> {
        let (h, dn, dr, dv, r) = (s.n_heads, s.qk_nope_head_dim, s.qk_rope_head_dim, s.v_head_dim, s.kv_lora_rank);
        let q_out = h * (dn + dr);
        let query = match s.q_lora_rank {
            None => QueryProj::Plain { q_proj: Linear::load(&vp.pp("q_proj"), s.hidden, q_out, false)? },
            Some(qr) => QueryProj::LowRank {
                q_a_proj: Linear::load(&vp.pp("q_a_proj"), s.hidden, qr, s.attention_bias)?,
                q_a_layernorm: RmsNorm::load(&vp.pp("q_a_layernorm"), qr, s.rms_eps)?,
                q_b_proj: Linear::load(&vp.pp("q_b_proj"), qr, q_out, false)?,
            },
        };
        let kv_b_proj = Linear::load(&vp.pp("kv_b_proj"), r, h * (dn + dv), false)?;
        let per_head = kv_b_proj.weight_f32()?.reshape((h, dn + dv, r))?;
        let w_uk = per_head.narrow(1, 0, dn)?.contiguous()?;
        let w_uv_t = per_head.narrow(1, dn, dv)?.transpose(1, 2)?.contiguous()?;
        Ok(Self {
            shape: s,
            query,
            kv_a_proj_with_mqa: Linear::load(&vp.pp("kv_a_proj_with_mqa"), s.hidden, r + dr, s.attention_bias)?,
            kv_a_layernorm: RmsNorm::load(&vp.pp("kv_a_layernorm"), r, s.rms_eps)?,
            kv_b_proj,
            o_proj: Linear::load(&vp.pp("o_proj"), h * dv, s.hidden, s.attention_bias)?,
            w_uk,
            w_uv_t,
        })
    }

    /// Weights held by this block (for parameter counts).
    pub fn linears(&self) -> Vec<&Linear> {
        let mut v = match &self.query {
            QueryProj::Plain { q_proj } => vec![q_proj],
            QueryProj::LowRank { q_a_proj, q_b_proj, .. } => vec![q_a_proj, q_b_proj],
        };
        v.extend([&self.kv_a_proj_with_mqa, &self.kv_b_proj, &self.o_proj]);
        v
    }

    pub fn norms(&self) -> Vec<&RmsNorm> {
        match &self.query {
            QueryProj::Plain { .. } => vec![&self.kv_a_layernorm],
            QueryProj::LowRank { q_a_layernorm, .. } => vec![q_a_layernorm, &self.kv_a_layernorm],
        }
    }

    /// x: (n, hidden) holding the tokens of several sequences back to back, laid out as
    /// `batch.layout` says, each with its latent cache in `batch.caches`.
    pub fn forward(
        &self,
        x: &Tensor,
        batch: &mut AttnBatch<'_, '_>,
        attn_impl: AttnImpl,
    ) -> candle_core::Result<Tensor> {
        let (layout, rope) = (batch.layout, batch.rope);
        let s = self.shape;
        let n = x.dim(0)?;
        let (h, dn, dr, r) = (s.n_heads, s.qk_nope_head_dim, s.qk_rope_head_dim, s.kv_lora_rank);
        // Queries, per head [nope | rope].
        let q = match &self.query {
            QueryProj::Plain { q_proj } => q_proj.forward(x)?,
            QueryProj::LowRank { q_a_proj, q_a_layernorm, q_b_proj } => {
                q_b_proj.forward(&q_a_layernorm.forward(&q_a_proj.forward(x)?)?)?
            }
        };
        let q = q.reshape((n, h, dn + dr))?;
        // One projection gives [latent | shared rope key]; the norm acts on the latent only.
        let kv = self.kv_a_proj_with_mqa.forward(x)?; // (n, r + dr)
        let c_kv = self.kv_a_layernorm.forward(&kv.narrow(1, 0, r)?)?; // (n, r)
        let k_pe = kv.narrow(1, r, dr)?.reshape((n, 1, dr))?;

        let mut outs = Vec::with_capacity(layout.seqs.len());
        for (i, &SeqRows { row, len, pos }) in layout.seqs.iter().enumerate() {
            let q_nope = q.narrow(0, row, len)?.narrow(2, 0, dn)?; // (len, h, dn)
            let q_pe = rope.apply(&q.narrow(0, row, len)?.narrow(2, dn, dr)?, pos)?; // (len, h, dr)
            let c_new = c_kv.narrow(0, row, len)?; // (len, r)
            let k_pe_new = rope.apply(&k_pe.narrow(0, row, len)?, pos)?.reshape((len, dr))?;
            // The cache holds only the latent form, whichever way we attend.
            let (c_all, k_pe_all) = match batch.caches.get_mut(i).and_then(|c| c.as_deref_mut()) {
                Some(cache) => {
                    let all = cache.append(&[&c_new.unsqueeze(0)?, &k_pe_new.unsqueeze(0)?])?;
                    (all[0].squeeze(0)?, all[1].squeeze(0)?)
                }
                None => (c_new, k_pe_new),
            }; // (t, r), (t, dr)
            let t = c_all.dim(0)?;
            let out = if self.use_naive(attn_impl, len, t) {
                self.attend_naive(&q_nope, &q_pe, &c_all, &k_pe_all, pos)?
            } else {
                self.attend_absorbed(&q_nope, &q_pe, &c_all, &k_pe_all, pos)?
            };
            outs.push(out);
        }
        self.o_proj.forward(&Tensor::cat(&outs, 0)?)
    }

    fn use_naive(&self, attn_impl: AttnImpl, len: usize, t: usize) -> bool {
        let s = self.shape;
        let (h, dn, dr, dv, r) = (s.n_heads, s.qk_nope_head_dim, s.qk_rope_head_dim, s.v_head_dim, s.kv_lora_rank);
        match attn_impl {
            AttnImpl::Naive => true,
            AttnImpl::Absorb => false,
            AttnImpl::Auto => {
                let naive = t * r * h * (dn + dv) + h * len * t * (dn + dr + dv);
                let absorbed = len * h * r * (dn + dv) + h * len * t * (2 * r + dr);
                naive < absorbed
            }
        }
    }

    /// k, v = kv_b_proj(c_kv) per head; key = [k_nope | k_pe], query = [q_nope | q_pe].
    /// Returns (len, h * v).
    fn attend_naive(
        &self,
        q_nope: &Tensor,
        q_pe: &Tensor,
        c_all: &Tensor,
        k_pe_all: &Tensor,
        pos: usize,
    ) -> candle_core::Result<Tensor> {
        let s = self.shape;
        let (h, dn, dr, dv) = (s.n_heads, s.qk_nope_head_dim, s.qk_rope_head_dim, s.v_head_dim);
        let (len, t) = (q_nope.dim(0)?, c_all.dim(0)?);
        let kv = self.kv_b_proj.forward(c_all)?.reshape((t, h, dn + dv))?;
        let k_pe = k_pe_all.reshape((t, 1, dr))?.broadcast_as((t, h, dr))?.contiguous()?;
        let k = Tensor::cat(&[&kv.narrow(2, 0, dn)?, &k_pe], 2)?.transpose(0, 1)?.contiguous()?; // (h, t, dn+dr)
        let v = kv.narrow(2, dn, dv)?.transpose(0, 1)?.contiguous()?; // (h, t, dv)
        let q = Tensor::cat(&[q_nope, q_pe], 2)?.transpose(0, 1)?.contiguous()?; // (h, len, dn+dr)
        let out = attend(&q, &k, &v, pos, s.softmax_scale)?; // (h, len, dv)
        out.transpose(0, 1)?.reshape((len, h * dv))
    }

    /// scores = (q_nope·W_UK)·c_kvᵀ + q_pe·k_peᵀ; out = (softmax(scores)·c_kv)·W_UVᵀ.
    /// Keys and values are never materialised per head. Returns (len, h * v).
    fn attend_absorbed(
        &self,
        q_nope: &Tensor,
        q_pe: &Tensor,
        c_all: &Tensor,
        k_pe_all: &Tensor,
        pos: usize,
    ) -> candle_core::Result<Tensor> {
        let s = self.shape;
        let (h, dr, dv, r) = (s.n_heads, s.qk_rope_head_dim, s.v_head_dim, s.kv_lora_rank);
        let (len, t) = (q_nope.dim(0)?, c_all.dim(0)?);
        let q_lat = q_nope.transpose(0, 1)?.contiguous()?.matmul(&self.w_uk)?; // (h, len, r)
        let q_pe = q_pe.transpose(0, 1)?.contiguous()?.reshape((h * len, dr))?;
        let scores = (q_lat.reshape((h * len, r))?.matmul(&c_all.t()?)? + q_pe.matmul(&k_pe_all.t()?)?)?;
        let scores = (scores * s.softmax_scale)?.reshape((h, len, t))?;
        let scores = if len > 1 { scores.broadcast_add(&causal_mask(len, t, pos)?)? } else { scores };
        let probs = softmax_last_dim(&scores)?.reshape((h * len, t))?;
        let o_lat = probs.matmul(c_all)?.reshape((h, len, r))?;
        let out = o_lat.matmul(&self.w_uv_t)?; // (h, len, dv)
        out.transpose(0, 1)?.reshape((len, h * dv))
    }
}
