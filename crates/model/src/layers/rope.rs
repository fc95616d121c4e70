//! Rotary position embeddings: the inverse-frequency schedules (default, linear, Llama 3, YaRN)
//! as transformers computes them, cos/sin tables, and the two ways of pairing dimensions:
//! `rotate_half` (Llama/Qwen: dim i with i + d/2) and interleaved (DeepSeek: 2i with 2i + 1).

use crate::config::RopeConfig;
pub use crate::config::{RopeLayout, inv_freq, yarn_mscale};
use crate::error::Result;
use candle_core::{D, Device, Tensor};

/// Precomputed cos/sin tables, grown on demand; `dim` is the rotated width.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    pub dim: usize,
    inv_freq: Vec<f32>,
    attention_factor: f32,
    cos: Tensor, // (max_pos, dim/2)
    sin: Tensor,
    pub layout: RopeLayout,
}

impl RotaryEmbedding {
    pub fn new(cfg: &RopeConfig, dim: usize, max_pos: usize, layout: RopeLayout) -> Result<Self> {
        let (inv_freq, attention_factor) = inv_freq(cfg, dim);
        let attention_factor = attention_factor as f32;
        let (cos, sin) = tables(&inv_freq, attention_factor, max_pos)?;
        Ok(Self { dim, inv_freq, attention_factor, cos, sin, layout })
    }

    pub fn max_positions(&self) -> usize {
        self.cos.dim(0).unwrap_or(0)
    }

    /// cos/sin rows for positions `start .. start + len`, each (len, dim/2).
    fn rows(&self, start: usize, len: usize) -> candle_core::Result<(Tensor, Tensor)> {
        if start + len <= self.max_positions() {
            return Ok((self.cos.narrow(0, start, len)?, self.sin.narrow(0, start, len)?));
        }
        // Past the precomputed table (a long reasoning trace): just these rows, each computed
        // exactly as the table computes it, so a step costs the same at any depth.
        table_rows(&self.inv_freq, self.attention_factor, start, len)
    }

    /// Rotate `x` of shape (len, heads, dim) for positions starting at `start`.
    pub fn apply(&self, x: &Tensor, start: usize) -> candle_core::Result<Tensor> {
        let (len, _heads, dim) = x.dims3()?;
        let (cos, sin) = self.rows(start, len)?;
        if let Some(y) = crate::kernels::tensor_ops::rope(x, &cos, &sin, self.layout)? {
            return Ok(y);
        }
        let cos = cos.unsqueeze(1)?; // (len, 1, dim/2)
        let sin = sin.unsqueeze(1)?;
        let half = dim / 2;
        Ok(match self.layout {
            RopeLayout::Half => {
                let x1 = x.narrow(D::Minus1, 0, half)?;
                let x2 = x.narrow(D::Minus1, half, half)?;
                let r1 = (x1.broadcast_mul(&cos)? - x2.broadcast_mul(&sin)?)?;
                let r2 = (x2.broadcast_mul(&cos)? + x1.broadcast_mul(&sin)?)?;
                Tensor::cat(&[r1, r2], D::Minus1)?
            }
            RopeLayout::Interleaved => {
                let (l, h, _) = x.dims3()?;
                let pairs = x.reshape((l, h, half, 2))?;
                let x1 = pairs.narrow(D::Minus1, 0, 1)?.squeeze(D::Minus1)?;
                let x2 = pairs.narrow(D::Minus1, 1, 1)?.squeeze(D::Minus1)?;
                let r1 = (x1.broadcast_mul(&cos)? - x2.broadcast_mul(&sin)?)?;
                let r2 = (x2.broadcast_mul(&cos)? + x1.broadcast_mul(&sin)?)?;
                Tensor::stack(&[r1, r2], D::Minus1)?.reshape((l, h, dim))?
            }
        })
    }
}

fn tables(inv_freq: &[f32], attention_factor: f32, max_pos: usize) -> candle_core::Result<(Tensor, Tensor)> {
    table_rows(inv_freq, attention_factor, 0, max_pos)
}

/// cos/sin for positions `start .. start + len`, each (len, dim/2).
fn table_rows(
    inv_freq: &[f32],
    attention_factor: f32,
    start: usize,
    len: usize,
) -> candle_core::Result<(Tensor, Tensor)> {
    let half = inv_freq.len();
    let mut cos = Vec::with_capacity(len * half);
    let mut sin = Vec::with_capacity(len * half);
    for p in start..start + len {
        for &f in inv_freq {
            // f32 product as in transformers (position_ids.float() @ inv_freq.float()).
            let angle = p as f32 * f;
            cos.push(angle.cos() * attention_factor);
            sin.push(angle.sin() * attention_factor);
        }
    }
    Ok((Tensor::from_vec(cos, (len, half), &Device::Cpu)?, Tensor::from_vec(sin, (len, half), &Device::Cpu)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RopeScaling;

    #[test]
    fn llama3_keeps_high_frequencies_and_divides_low_ones() {
        let cfg = RopeConfig {
            theta: 500000.0,
            scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192.0,
            },
            partial_rotary_factor: 1.0,
        };
        let plain = inv_freq(&RopeConfig { scaling: RopeScaling::None, ..cfg.clone() }, 128).0;
        let scaled = inv_freq(&cfg, 128).0;
        assert_eq!(plain[0], scaled[0]);
        assert!((plain[63] / 8.0 - scaled[63]).abs() < 1e-12);
    }

    #[test]
    fn interleaved_and_half_layouts_agree_after_permutation() {
        let cfg = RopeConfig { theta: 10000.0, scaling: RopeScaling::None, partial_rotary_factor: 1.0 };
        let half = RotaryEmbedding::new(&cfg, 4, 16, RopeLayout::Half).unwrap();
        let inter = RotaryEmbedding::new(&cfg, 4, 16, RopeLayout::Interleaved).unwrap();
        let x = Tensor::new(&[[[1f32, 2., 3., 4.]]], &Device::Cpu).unwrap();
        // interleaved [a0,b0,a1,b1] == half [a0,a1,b0,b1]
        let xi = Tensor::new(&[[[1f32, 3., 2., 4.]]], &Device::Cpu).unwrap();
        let h = half.apply(&x, 5).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let i = inter.apply(&xi, 5).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let permuted = [i[0], i[2], i[1], i[3]];
        for (a, b) in h.iter().zip(permuted) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn rows_past_the_table_equal_a_longer_tables_rows() {
        let cfg = RopeConfig { theta: 10000.0, scaling: RopeScaling::None, partial_rotary_factor: 1.0 };
        let short = RotaryEmbedding::new(&cfg, 8, 16, RopeLayout::Half).unwrap();
        let long = RotaryEmbedding::new(&cfg, 8, 64, RopeLayout::Half).unwrap();
        // Straddling the end of the short table and wholly past it.
        for (start, len) in [(14, 5), (40, 3), (63, 1)] {
            let (a, b) = (short.rows(start, len).unwrap(), long.rows(start, len).unwrap());
            let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(v(&a.0), v(&b.0), "cos at {start}+{len}");
            assert_eq!(v(&a.1), v(&b.1), "sin at {start}+{len}");
        }
    }
}
