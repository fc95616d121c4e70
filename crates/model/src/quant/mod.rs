//! Quantized weight blocks (Q8_0, Q4_0, Q5_0, Q4_K, Q6_K, plus F32/F16/BF16 rows) laid out
//! byte for byte as llama.cpp's ggml-common.h defines them, their reference quantizers and
//! dequantizers, and `PackedMatrix`, a weight matrix kept in its stored format. The kernels that
//! multiply them with activations are in `crate::kernels`.

pub(crate) mod blocks;
pub(crate) mod float;
mod ggml_type;
pub(crate) mod k_quants;
mod packed;

use std::borrow::Cow;

pub use blocks::{BLOCK_Q4_0, BLOCK_Q5_0, BLOCK_Q8_0, QK};
pub use float::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};
pub use ggml_type::{GgmlType, QK_K};
pub use k_quants::{BLOCK_Q4_K, BLOCK_Q6_K, BlockQ8K};
pub use packed::{MappedBytes, PackedMatrix};

/// Why a quantized row or matrix cannot be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error("no quantizer or kernel for {0}")]
    Unsupported(GgmlType),
    #[error("{dtype}: row of {cols} values is not a whole number of {block}-value blocks")]
    PartialBlock { dtype: GgmlType, cols: usize, block: usize },
    #[error("{dtype} {rows}x{cols}: {got} bytes, expected {expected}")]
    WrongSize { dtype: GgmlType, rows: usize, cols: usize, got: usize, expected: usize },
}

/// Bytes of one row of `cols` values of `dtype`, checking the block multiple.
pub fn row_bytes(dtype: GgmlType, cols: usize) -> Result<usize, QuantError> {
    dtype.row_bytes(cols as u64).map(|b| b as usize).ok_or(QuantError::PartialBlock {
        dtype,
        cols,
        block: dtype.block_size(),
    })
}

/// Quantizes one row of f32 into `dtype` blocks, as llama.cpp's `quantize_row_*_ref` does
/// (what `llama-quantize` writes without an importance matrix). `out` must be `row_bytes` long.
pub fn quantize_row(dtype: GgmlType, x: &[f32], out: &mut [u8]) -> Result<(), QuantError> {
    let expected = row_bytes(dtype, x.len())?;
    if out.len() != expected {
        let (rows, cols, got) = (1, x.len(), out.len());
        return Err(QuantError::WrongSize { dtype, rows, cols, got, expected });
    }
    match dtype {
        GgmlType::F32 => float::f32_row_to_bytes(x, out),
        GgmlType::F16 => float::quantize_row_f16(x, out),
        GgmlType::BF16 => float::quantize_row_bf16(x, out),
        GgmlType::Q8_0 => blocks::quantize_row_q8_0(x, out),
        GgmlType::Q4_0 => blocks::quantize_row_q4_0(x, out),
        GgmlType::Q5_0 => blocks::quantize_row_q5_0(x, out),
        GgmlType::Q4K => k_quants::quantize_row_q4_k(x, out),
        GgmlType::Q6K => k_quants::quantize_row_q6_k(x, out),
        other => return Err(QuantError::Unsupported(other)),
    }
    Ok(())
}

/// Dequantizes one row of `dtype` blocks into f32 (`out.len()` values).
pub fn dequantize_row(dtype: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    let expected = row_bytes(dtype, out.len())?;
    if bytes.len() != expected {
        let (rows, cols, got) = (1, out.len(), bytes.len());
        return Err(QuantError::WrongSize { dtype, rows, cols, got, expected });
    }
    match dtype {
        GgmlType::F32 => float::f32_row_from_bytes(bytes, out),
        GgmlType::F16 => float::dequantize_row_f16(bytes, out),
        GgmlType::BF16 => float::dequantize_row_bf16(bytes, out),
        GgmlType::Q8_0 => blocks::dequantize_row_q8_0(bytes, out),
        GgmlType::Q4_0 => blocks::dequantize_row_q4_0(bytes, out),
        GgmlType::Q5_0 => blocks::dequantize_row_q5_0(bytes, out),
        GgmlType::Q4K => k_quants::dequantize_row_q4_k(bytes, out),
        GgmlType::Q6K => k_quants::dequantize_row_q6_k(bytes, out),
        other => return Err(QuantError::Unsupported(other)),
    }
    Ok(())
}

/// Quantizes a row-major `rows x cols` f32 matrix, row by row.
pub fn quantize(dtype: GgmlType, x: &[f32], cols: usize) -> Result<Vec<u8>, QuantError> {
    let rb = row_bytes(dtype, cols)?;
    let rows = x.len().checked_div(cols).unwrap_or(0);
    if rows * cols != x.len() {
        let expected = rows * cols;
        return Err(QuantError::WrongSize { dtype: GgmlType::F32, rows, cols, got: x.len(), expected });
    }
    let mut out = vec![0u8; rows * rb];
    for (row, dst) in x.chunks_exact(cols.max(1)).zip(out.chunks_exact_mut(rb.max(1))) {
        quantize_row(dtype, row, dst)?;
    }
    Ok(out)
}

/// A weight matrix of `rows` rows of `cols` values in one ggml type, its bytes borrowed from a
/// memory map or owned. Row `r` is bytes `[r * row_bytes, (r + 1) * row_bytes)`.
#[derive(Clone, Debug)]
pub struct QMatrix<'a> {
    pub dtype: GgmlType,
    pub rows: usize,
    pub cols: usize,
    pub data: Cow<'a, [u8]>,
}

impl<'a> QMatrix<'a> {
    /// Checks that the type has kernels and that `data` holds exactly `rows` rows.
    pub fn new(dtype: GgmlType, rows: usize, cols: usize, data: Cow<'a, [u8]>) -> Result<Self, QuantError> {
        if !dtype.is_supported() {
            return Err(QuantError::Unsupported(dtype));
        }
        let expected = row_bytes(dtype, cols)?.checked_mul(rows);
        if expected != Some(data.len()) {
            let expected = expected.unwrap_or(usize::MAX);
            return Err(QuantError::WrongSize { dtype, rows, cols, got: data.len(), expected });
        }
        Ok(Self { dtype, rows, cols, data })
    }

    /// Quantizes a row-major f32 matrix into an owned `QMatrix`.
    pub fn quantize(dtype: GgmlType, x: &[f32], rows: usize, cols: usize) -> Result<QMatrix<'static>, QuantError> {
        if rows * cols != x.len() {
            return Err(QuantError::WrongSize {
                dtype: GgmlType::F32,
                rows,
                cols,
                got: x.len(),
                expected: rows * cols,
            });
        }
        let data = quantize(dtype, x, cols)?;
        QMatrix::new(dtype, rows, cols, Cow::Owned(data))
    }

    pub fn row_bytes(&self) -> usize {
        self.data.len() / self.rows.max(1)
    }

    pub fn row(&self, r: usize) -> &[u8] {
        let rb = self.row_bytes();
        &self.data[r * rb..(r + 1) * rb]
    }

    /// The whole matrix as f32, row-major (for tests and fallbacks).
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        for r in 0..self.rows {
            // Sizes were checked in `new`, so this cannot fail.
            let _ = dequantize_row(self.dtype, self.row(r), &mut out[r * self.cols..(r + 1) * self.cols]);
        }
        out
    }
}
