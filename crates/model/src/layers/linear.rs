//! A linear layer y = x Wᵀ + b with W stored (out, in) as in every checkpoint format.

use crate::error::Result;
use crate::weights::VarPath;
use candle_core::Tensor;

#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: Tensor, // (out, in)
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn load(vp: &VarPath, in_dim: usize, out_dim: usize, bias: bool) -> Result<Self> {
        let weight = vp.get("weight", &[out_dim, in_dim])?;
        let bias = if bias { Some(vp.get("bias", &[out_dim])?) } else { None };
        Ok(Self { weight, bias })
    }

    pub fn out_dim(&self) -> usize {
        self.weight.dims()[0]
    }

    /// x: (n, in) -> (n, out)
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = x.matmul(&self.weight.t()?)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}
