//! RMSNorm: x · rsqrt(mean(x²) + ε) · w, computed in f32 as transformers does.

use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::kernels::tensor_ops;
use candle_core::{D, Tensor};

#[derive(Debug, Clone)]
pub struct RmsNorm {
    pub weight: Tensor,
    pub eps: f64,
}

impl RmsNorm {
    pub fn load(vp: &VarPath, size: usize, eps: f64) -> Result<Self> {
        Ok(Self { weight: vp.get("weight", &[size])?, eps })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if let Some(y) = tensor_ops::rms_norm(x, &self.weight, self.eps)? {
            return Ok(y);
        }
        let variance = x.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = x.broadcast_mul(&(variance + self.eps)?.sqrt()?.recip()?)?;
        normed.broadcast_mul(&self.weight)
    }
}
