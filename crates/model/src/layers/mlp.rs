//! The SwiGLU feed-forward block: down(silu(gate(x)) · up(x)).

use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::kernels::tensor_ops;
use crate::layers::linear::{Linear, forward_many};
use candle_core::Tensor;

#[derive(Debug, Clone)]
pub struct SwiGlu {
    pub gate_proj: Linear,
    pub up_proj: Linear,
    pub down_proj: Linear,
}

impl SwiGlu {
    pub fn load(vp: &VarPath, hidden: usize, intermediate: usize, bias: bool) -> Result<Self> {
        Ok(Self {
            gate_proj: Linear::load(&vp.pp("gate_proj"), hidden, intermediate, bias)?,
            up_proj: Linear::load(&vp.pp("up_proj"), hidden, intermediate, bias)?,
            down_proj: Linear::load(&vp.pp("down_proj"), intermediate, hidden, bias)?,
        })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let [gate, up] = forward_many([&self.gate_proj, &self.up_proj], x)?;
        let hidden = match tensor_ops::silu_mul(&gate, &up)? {
            Some(h) => h,
            None => (gate.silu()? * up)?,
        };
        self.down_proj.forward(&hidden)
    }
}
