//! Token embeddings: a lookup of rows of the (vocab, hidden) table. A packed (GGUF) table stays
//! packed and only the rows looked up are dequantized, so a quantized model never holds an f32
//! copy of its largest matrix.

use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::layers::linear::{Linear, LinearWeight};
use candle_core::{Device, Tensor};

#[derive(Debug, Clone)]
pub struct Embedding {
    table: LinearWeight, // (vocab, hidden)
    hidden: usize,
}

impl Embedding {
    pub fn load(vp: &VarPath, vocab: usize, hidden: usize) -> Result<Self> {
        // The table has the shape of a linear weight (out = vocab, in = hidden).
        let lin = Linear::load(vp, hidden, vocab, false)?;
        Ok(Self { table: lin.weight, hidden })
    }

    pub fn forward(&self, ids: &[u32]) -> candle_core::Result<Tensor> {
        match &self.table {
            LinearWeight::Dense(t) => t.index_select(&Tensor::new(ids, &Device::Cpu)?, 0),
            packed => {
                let rows = packed.shape().0;
                let mut out = vec![0f32; ids.len() * self.hidden];
                for (row, &id) in out.chunks_mut(self.hidden).zip(ids) {
                    if id as usize >= rows {
                        candle_core::bail!("token id {id} is outside the embedding table of {rows} rows");
                    }
                    packed.dequantize_packed_row(id as usize, row)?;
                }
                Tensor::from_vec(out, (ids.len(), self.hidden), &Device::Cpu)
            }
        }
    }

    /// The same table used as the output projection (tied embeddings).
    pub fn as_linear(&self) -> Linear {
        Linear { weight: self.table.clone(), bias: None }
    }

    pub fn parameters(&self) -> u64 {
        self.as_linear().parameters()
    }
}
