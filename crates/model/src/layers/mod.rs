//! Building blocks shared by the architectures, each written once: RMSNorm, linear layers,
//! rotary embeddings, the SwiGLU MLP, grouped-query attention, multi-head latent attention, the
//! DeepSeekMoE block and the per-sequence KV cache.

pub mod attention;
pub mod batch;
pub mod embedding;
pub mod kv_cache;
pub mod linear;
pub mod mla;
pub mod mlp;
pub mod moe;
pub mod norm;
pub mod rope;

use crate::kernels::tensor_ops;
use candle_core::{D, Result, Tensor};

/// Numerically stable softmax over the last dimension, from differentiable ops.
pub fn softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    if let Some(y) = tensor_ops::softmax_last_dim(x)? {
        return Ok(y);
    }
    let max = x.max_keepdim(D::Minus1)?;
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)
}

/// log-softmax over the last dimension.
pub fn log_softmax_last_dim(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?;
    let shifted = x.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&lse)
}
