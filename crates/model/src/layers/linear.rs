//! A linear layer y = x Wᵀ + b with W stored (out, in) as in every checkpoint format. The weight
//! is either an f32 tensor (candle's matmul, trainable) or kept packed in its stored GGUF format
//! (F16, Q8_0, Q4_K, …) and multiplied by our quantized kernels without a dequantized copy.
//! Q4_K, Q6_K, Q5_0 and Q8_0 weights are moved into the eight-row interleaved layout
//! (`kernels::InterleavedMatrix`) at load, as llama.cpp repacks Q4_K: their row-at-a-time kernels are
//! compute-bound at 2 threads.

use crate::error::{ModelError, Result};
use crate::formats::weights::VarPath;
use crate::kernels::tensor_ops;
use crate::kernels::{self, InterleavedMatrix};
use crate::quant::PackedMatrix;
use crate::quant::{self, GgmlType};
use candle_core::{Device, Storage, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum LinearWeight {
    Dense(Tensor), // (out, in)
    Packed(PackedMatrix),
    /// A Q4_K, Q6_K, Q5_0 or Q8_0 matrix interleaved eight rows at a time (same bytes, moved).
    Interleaved(Arc<InterleavedMatrix>),
}

impl LinearWeight {
    /// A packed weight in the form its kernels run fastest on: Q4_K, Q6_K, Q5_0 or Q8_0 with rows in
    /// eights is interleaved (when this CPU has the SIMD kernels), other formats are moved into
    /// huge-page memory; either way its mapped pages are released.
    pub fn from_packed(p: PackedMatrix) -> Self {
        if InterleavedMatrix::fits(p.dtype, p.rows, p.cols) && kernels::interleaved::has_simd_kernels() {
            // Source pages are released band by band, so a large matrix is never resident twice.
            if let Ok(x8) = InterleavedMatrix::from_rows_releasing(p.dtype, p.bytes(), p.rows, p.cols, &|band| {
                p.release_pages_of(band)
            }) {
                return LinearWeight::Interleaved(Arc::new(x8));
            }
        }
        LinearWeight::Packed(p.into_huge_pages())
    }

    /// (out, in): rows and columns of the weight, whatever its form.
    pub fn shape(&self) -> (usize, usize) {
        match self {
            LinearWeight::Dense(w) => (w.dims()[0], w.dims()[1]),
            LinearWeight::Packed(p) => (p.rows, p.cols),
            LinearWeight::Interleaved(x) => (x.rows, x.cols),
        }
    }

    /// Dequantizes row `r` of a packed weight into `out` (`cols` values).
    pub(crate) fn dequantize_packed_row(&self, r: usize, out: &mut [f32]) -> candle_core::Result<()> {
        match self {
            LinearWeight::Dense(_) => candle_core::bail!("dequantize_packed_row on a dense weight"),
            LinearWeight::Interleaved(x8) => {
                x8.dequantize_row(r, out);
                Ok(())
            }
            LinearWeight::Packed(p) => {
                let rb = p.bytes().len() / p.rows.max(1);
                quant::dequantize_row(p.dtype, &p.bytes()[r * rb..(r + 1) * rb], out)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))
            }
        }
    }
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
                if vp.src.keep_mapped(&name) { LinearWeight::Packed(p) } else { LinearWeight::from_packed(p) }
            }
            None => LinearWeight::Dense(vp.get("weight", &[out_dim, in_dim])?),
        };
        let bias = if bias { Some(vp.get("bias", &[out_dim])?) } else { None };
        Ok(Self { weight, bias })
    }

    pub fn out_dim(&self) -> usize {
        self.weight.shape().0
    }

    /// The weight as an f32 (out, in) tensor (dequantized when packed).
    pub fn weight_f32(&self) -> Result<Tensor> {
        match &self.weight {
            LinearWeight::Dense(w) => Ok(w.clone()),
            LinearWeight::Packed(p) => p.dequantize(),
            LinearWeight::Interleaved(x) => Ok(Tensor::from_vec(x.dequantize(), (x.rows, x.cols), &Device::Cpu)?),
        }
    }

    /// Parameters, counting the bias.
    pub fn parameters(&self) -> u64 {
        let (rows, cols) = self.weight.shape();
        (rows * cols + self.bias.as_ref().map_or(0, |b| b.elem_count())) as u64
    }

    /// Bytes of the weight and bias as held in memory.
    pub fn bytes(&self) -> u64 {
        let w = match &self.weight {
            LinearWeight::Dense(w) => w.elem_count() * 4,
            LinearWeight::Packed(p) => p.n_bytes(),
            LinearWeight::Interleaved(x) => x.n_bytes(),
        };
        (w + self.bias.as_ref().map_or(0, |b| b.elem_count() * 4)) as u64
    }

    /// x: (n, in) -> (n, out)
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = match &self.weight {
            LinearWeight::Dense(w) => x.matmul(&w.t()?)?,
            LinearWeight::Packed(p) => packed_forward(&self.weight, p.dtype, x)?,
            LinearWeight::Interleaved(w) => packed_forward(&self.weight, w.dtype, x)?,
        };
        self.add_bias(y)
    }

    /// `y` (n, out) as a tensor with the bias added: on the values themselves when the bias
    /// is plain f32 (inference: no candle op and no second buffer per projection), else by
    /// candle's broadcast add.
    fn output_with_bias(&self, mut y: Vec<f32>, shape: (usize, usize)) -> candle_core::Result<Tensor> {
        if let Some(b) = &self.bias
            && !tensor_ops::add_bias_rows(&mut y, b)?
        {
            return self.add_bias(Tensor::from_vec(y, shape, &Device::Cpu)?);
        }
        Tensor::from_vec(y, shape, &Device::Cpu)
    }

    fn add_bias(&self, y: Tensor) -> candle_core::Result<Tensor> {
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// `layers[i].forward(x)` for layers that read the same input (a layer's q, k, v projections;
/// gate and up). When all hold interleaved quantized weights they run as one dispatch over the
/// cores with the input quantized once per kind (`InterleavedMatrix::matmul_many`): in a decode step
/// each dispatch ends with the cores waiting for each other, ~200 times per token.
pub fn forward_many<const N: usize>(layers: [&Linear; N], x: &Tensor) -> candle_core::Result<[Tensor; N]> {
    let outs = match fused_weights(&layers, x)? {
        Some(mats) => {
            let n = x.dims2()?.0;
            let mut bufs: Vec<Vec<f32>> = mats.iter().map(|m| vec![0f32; n * m.rows]).collect();
            with_input_rows(x, |xs| {
                let mut outs: Vec<&mut [f32]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                InterleavedMatrix::matmul_many(&mats, xs, &mut outs);
                Ok(())
            })?;
            let ys = bufs.into_iter().zip(&mats).zip(layers);
            ys.map(|((buf, m), layer)| layer.output_with_bias(buf, (n, m.rows)))
                .collect::<candle_core::Result<Vec<_>>>()?
        }
        None => layers.iter().map(|l| l.forward(x)).collect::<candle_core::Result<Vec<_>>>()?,
    };
    outs.try_into().map_err(|_| candle_core::Error::Msg("forward_many: output count".into()))
}

/// The layers' interleaved weights when all have them, take `x`'s width and would run the
/// integer kernels on `x` (not the banded f32 GEMM of a long prefill without int8).
fn fused_weights<'a>(layers: &[&'a Linear], x: &Tensor) -> candle_core::Result<Option<Vec<&'a InterleavedMatrix>>> {
    let Ok((n, k)) = x.dims2() else { return Ok(None) };
    let mut mats = Vec::with_capacity(layers.len());
    for l in layers {
        match &l.weight {
            LinearWeight::Interleaved(w) if w.cols == k && runs_integer_kernels(n, w.dtype) => mats.push(&**w),
            _ => return Ok(None),
        }
    }
    Ok(Some(mats))
}

/// From this many input rows on (prefill), a band of weight rows is dequantized once and run
/// through f32 GEMM, which beats per-row integer dots when each weight is reused many times.
const GEMM_MIN_ROWS: usize = 8;
/// Weight rows dequantized at a time: bounds the f32 scratch to a few MiB.
const GEMM_BAND_ROWS: usize = 512;

/// Whether `n` input rows on `dtype` weights run the integer kernels (else banded f32 GEMM).
fn runs_integer_kernels(n: usize, dtype: GgmlType) -> bool {
    n < GEMM_MIN_ROWS || kernels::int8_prefill_for(dtype)
}

/// `f` over the rows of a 2-D input as one contiguous f32 slice.
fn with_input_rows<R>(x: &Tensor, f: impl FnOnce(&[f32]) -> candle_core::Result<R>) -> candle_core::Result<R> {
    let (n, k) = x.dims2()?;
    let x = x.contiguous()?;
    let (storage, layout) = x.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else { candle_core::bail!("packed linear weights run on the CPU only") };
    f(&cpu.as_slice::<f32>()?[layout.start_offset()..layout.start_offset() + n * k])
}

/// y = x Wᵀ with W packed (`dtype` rows, plain or interleaved eight at a time): the quantized
/// kernels with activations quantized to Q8, as llama.cpp does (for many rows tiled, or four
/// rows at a time when interleaved); with int8 prefill turned off
/// (`kernels::set_int8_prefill`) many rows run banded dequantize + f32 GEMM instead.
fn packed_forward(weight: &LinearWeight, dtype: GgmlType, x: &Tensor) -> candle_core::Result<Tensor> {
    let ((rows, cols), (n, k)) = (weight.shape(), x.dims2()?);
    if k != cols {
        candle_core::bail!("packed linear: input has {k} features, weight {rows}x{cols} expects {cols}");
    }
    if !runs_integer_kernels(n, dtype) {
        return banded_gemm(rows, cols, x, |r, out| weight.dequantize_packed_row(r, out));
    }
    let mut out = vec![0f32; n * rows];
    with_input_rows(x, |xs| {
        match weight {
            LinearWeight::Packed(p) => {
                let qm = p.qmatrix();
                if !(n >= GEMM_MIN_ROWS && kernels::matmul_tiled(&qm, xs, &mut out)) {
                    kernels::matmul(&qm, xs, &mut out);
                }
            }
            LinearWeight::Interleaved(w) => w.matmul(xs, &mut out),
            LinearWeight::Dense(_) => candle_core::bail!("packed_forward on a dense weight"),
        }
        Ok(())
    })?;
    Tensor::from_vec(out, (n, rows), &Device::Cpu)
}

/// x Wᵀ for a (rows, cols) weight given row by row: bands of rows are dequantized (on all
/// workers) and multiplied by candle's f32 GEMM.
fn banded_gemm(
    rows: usize,
    cols: usize,
    x: &Tensor,
    dequantize_row: impl Fn(usize, &mut [f32]) -> candle_core::Result<()> + Sync,
) -> candle_core::Result<Tensor> {
    let mut outs = Vec::with_capacity(rows.div_ceil(GEMM_BAND_ROWS));
    for start in (0..rows).step_by(GEMM_BAND_ROWS) {
        let n = GEMM_BAND_ROWS.min(rows - start);
        let mut band = vec![0f32; n * cols];
        band.par_chunks_mut(cols).enumerate().try_for_each(|(r, out)| dequantize_row(start + r, out))?;
        let w = Tensor::from_vec(band, (n, cols), &Device::Cpu)?;
        outs.push(x.matmul(&w.t()?)?);
    }
    Tensor::cat(&outs, 1)
}

#[cfg(test)]
mod tests {
    use super::{Linear, LinearWeight, forward_many};
    use crate::kernels::InterleavedMatrix;
    use crate::quant::{self, GgmlType};
    use candle_core::{Device, Tensor, Var};
    use std::sync::Arc;

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 2654435761) % 1000) as f32 * 1e-3 - 0.5).collect()
    }

    fn x8_linear(rows: usize, cols: usize, seed: usize, bias: Option<Tensor>) -> Linear {
        let bytes = quant::quantize(GgmlType::Q8_0, &values(rows * cols, seed), cols).unwrap();
        Linear {
            weight: LinearWeight::Interleaved(Arc::new(
                InterleavedMatrix::from_rows(GgmlType::Q8_0, &bytes, rows, cols).unwrap(),
            )),
            bias,
        }
    }

    /// The projections' bias is added to the kernels' output in place: exactly what candle's
    /// add gives, once; a bias tracked by autograd still goes through candle.
    #[test]
    fn biases_added_in_place_equal_the_candle_add() {
        let (rows, cols) = (64, 128);
        let bias = Tensor::from_vec(values(rows, 7), rows, &Device::Cpu).unwrap();
        let x = Tensor::from_vec(values(2 * cols, 3), (2, cols), &Device::Cpu).unwrap();
        let (with, without) = (x8_linear(rows, cols, 1, Some(bias.clone())), x8_linear(rows, cols, 1, None));
        let other = x8_linear(rows, cols, 2, None);
        let [a, _] = forward_many([&with, &other], &x).unwrap();
        let [b, _] = forward_many([&without, &other], &x).unwrap();
        let expected = b.broadcast_add(&bias).unwrap();
        assert_eq!(a.to_vec2::<f32>().unwrap(), expected.to_vec2::<f32>().unwrap());
        let tracked = x8_linear(rows, cols, 1, Some(Var::from_tensor(&bias).unwrap().as_tensor().clone()));
        let [c, _] = forward_many([&tracked, &other], &x).unwrap();
        assert!(c.track_op(), "a tracked bias must take candle's add");
        assert_eq!(c.to_vec2::<f32>().unwrap(), expected.to_vec2::<f32>().unwrap());
    }
}
