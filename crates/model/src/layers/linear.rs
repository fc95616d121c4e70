//! A linear layer y = x Wᵀ + b with W stored (out, in) as in every checkpoint format. The weight
//! is either an f32 tensor (candle's matmul, trainable) or kept packed in its stored GGUF format
//! (F16, Q8_0, Q4_K, …) and multiplied by our quantized kernels without a dequantized copy.

use crate::error::{ModelError, Result};
use crate::gguf_source::PackedMatrix;
use crate::quant;
use crate::weights::VarPath;
use candle_core::{Device, Storage, Tensor};
use rayon::prelude::*;

#[derive(Debug, Clone)]
pub enum LinearWeight {
    Dense(Tensor), // (out, in)
    Packed(PackedMatrix),
}

#[derive(Debug, Clone)]
pub struct Linear {
    pub weight: LinearWeight,
    pub bias: Option<Tensor>,
}

impl Linear {
    pub fn from_tensor(weight: Tensor) -> Self {
        Self { weight: LinearWeight::Dense(weight), bias: None }
    }

    pub fn load(vp: &VarPath, in_dim: usize, out_dim: usize, bias: bool) -> Result<Self> {
        let name = vp.name("weight");
        let weight = match vp.src.packed(&name) {
            Some(packed) => {
                let p = packed?;
                if (p.rows, p.cols) != (out_dim, in_dim) {
                    return Err(ModelError::ShapeMismatch {
                        tensor: name,
                        found: vec![p.rows, p.cols],
                        expected: vec![out_dim, in_dim],
                        source_name: vp.src.origin(),
                    });
                }
                LinearWeight::Packed(p)
            }
            None => LinearWeight::Dense(vp.get("weight", &[out_dim, in_dim])?),
        };
        let bias = if bias { Some(vp.get("bias", &[out_dim])?) } else { None };
        Ok(Self { weight, bias })
    }

    pub fn out_dim(&self) -> usize {
        match &self.weight {
            LinearWeight::Dense(w) => w.dims()[0],
            LinearWeight::Packed(p) => p.rows,
        }
    }

    /// The weight as an f32 (out, in) tensor (dequantized when packed).
    pub fn weight_f32(&self) -> Result<Tensor> {
        match &self.weight {
            LinearWeight::Dense(w) => Ok(w.clone()),
            LinearWeight::Packed(p) => p.dequantize(),
        }
    }

    /// Parameters, counting the bias.
    pub fn parameters(&self) -> u64 {
        let w = match &self.weight {
            LinearWeight::Dense(w) => w.elem_count(),
            LinearWeight::Packed(p) => p.rows * p.cols,
        };
        (w + self.bias.as_ref().map_or(0, |b| b.elem_count())) as u64
    }

    /// Bytes of the weight and bias as held in memory.
    pub fn bytes(&self) -> u64 {
        let w = match &self.weight {
            LinearWeight::Dense(w) => w.elem_count() * 4,
            LinearWeight::Packed(p) => p.n_bytes(),
        };
        (w + self.bias.as_ref().map_or(0, |b| b.elem_count() * 4)) as u64
    }

    /// x: (n, in) -> (n, out)
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.weight {
            LinearWeight::Dense(w) => x.matmul(&w.t()?)?,
            LinearWeight::Packed(p) => packed_matmul(p, x)?,
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// From this many input rows on (prefill), a band of weight rows is dequantized once and run
/// through f32 GEMM, which beats per-row integer dots when each weight is reused many times.
const GEMM_MIN_ROWS: usize = 8;
/// Weight rows dequantized at a time: bounds the f32 scratch to a few MiB.
const GEMM_BAND_ROWS: usize = 512;

/// y = x Wᵀ with W packed: banded dequantize + GEMM for many rows, quantized kernels for few.
/// With int8 prefill opted in (`quant::kernels::set_int8_prefill`), many rows over Q8_0 weights
/// run the tiled integer GEMM instead (about 1.5x faster; activations quantized to Q8_0).
fn packed_matmul(p: &PackedMatrix, x: &Tensor) -> candle_core::Result<Tensor> {
    let (n, k) = x.dims2()?;
    if k != p.cols {
        candle_core::bail!("packed linear: input has {k} features, weight {}x{} expects {}", p.rows, p.cols, p.cols);
    }
    if n >= GEMM_MIN_ROWS && !quant::kernels::int8_prefill_for(p.dtype) {
        return banded_gemm(p, x);
    }
    let x = x.contiguous()?;
    let (storage, layout) = x.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else { candle_core::bail!("packed linear weights run on the CPU only") };
    let xs = &cpu.as_slice::<f32>()?[layout.start_offset()..layout.start_offset() + n * k];
    let mut out = vec![0f32; n * p.rows];
    let qm = p.qmatrix();
    if !(n >= GEMM_MIN_ROWS && quant::kernels::matmul_tiled(&qm, xs, &mut out)) {
        quant::matmul(&qm, xs, &mut out);
    }
    drop(storage);
    Tensor::from_vec(out, (n, p.rows), &Device::Cpu)
}

fn banded_gemm(p: &PackedMatrix, x: &Tensor) -> candle_core::Result<Tensor> {
    let qm = p.qmatrix();
    let rb = qm.row_bytes();
    let mut outs = Vec::with_capacity(p.rows.div_ceil(GEMM_BAND_ROWS));
    for start in (0..p.rows).step_by(GEMM_BAND_ROWS) {
        let rows = GEMM_BAND_ROWS.min(p.rows - start);
        let mut band = vec![0f32; rows * p.cols];
        // Dequantize the band on all workers; GEMM below is parallel too.
        band.par_chunks_mut(p.cols).enumerate().try_for_each(|(r, out)| {
            let bytes = &qm.data[(start + r) * rb..(start + r + 1) * rb];
            quant::dequantize_row(p.dtype, bytes, out).map_err(|e| candle_core::Error::Msg(e.to_string()))
        })?;
        let w = Tensor::from_vec(band, (rows, p.cols), &Device::Cpu)?;
        outs.push(x.matmul(&w.t()?)?);
    }
    Tensor::cat(&outs, 1)
}
