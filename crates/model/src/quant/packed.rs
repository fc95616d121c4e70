//! A weight matrix kept in its stored (possibly quantized) format, whoever holds the bytes: an
//! owned buffer, huge-page memory, or a memory map lent by a file format (`MappedBytes`, which
//! GGUF implements). Layers take it from `WeightSource::packed` and pick kernels by its dtype.

use super::{GgmlType, QMatrix};
use crate::cpu::huge_pages::HugeBytes;
use crate::error::Result;
use candle_core::{Device, Tensor};
use std::borrow::Cow;
use std::sync::Arc;

/// Bytes in a memory map that a file format owns, and a way to drop their pages once copied.
pub trait MappedBytes: Send + Sync {
    fn bytes(&self) -> &[u8];
    /// Drops the mapped pages of `part` (a sub-slice of `bytes()`) from the resident set.
    fn release_pages(&self, part: &[u8]);
}

/// A weight matrix kept in its stored (possibly quantized) format.
#[derive(Clone)]
pub struct PackedMatrix {
    pub dtype: GgmlType,
    pub rows: usize,
    pub cols: usize,
    bytes: PackedBytes,
}

#[derive(Clone)]
enum PackedBytes {
    Owned(Arc<Vec<u8>>),
    /// Moved out of the mapping into huge-page memory (see `into_huge_pages`).
    Huge(Arc<HugeBytes>),
    /// Bytes `start..start + len` of a mapped tensor (all of it, or one expert of a stacked
    /// 3-D tensor).
    Mapped {
        map: Arc<dyn MappedBytes>,
        start: usize,
        len: usize,
    },
}

impl std::fmt::Debug for PackedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedMatrix({} {}x{})", self.dtype, self.rows, self.cols)
    }
}

impl PackedMatrix {
    pub fn owned(dtype: GgmlType, rows: usize, cols: usize, bytes: Vec<u8>) -> Self {
        Self { dtype, rows, cols, bytes: PackedBytes::Owned(Arc::new(bytes)) }
    }

    /// A matrix whose bytes are `start..start + len` of a memory map owned elsewhere.
    pub fn mapped(
        dtype: GgmlType,
        rows: usize,
        cols: usize,
        map: Arc<dyn MappedBytes>,
        start: usize,
        len: usize,
    ) -> Self {
        Self { dtype, rows, cols, bytes: PackedBytes::Mapped { map, start, len } }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            PackedBytes::Owned(b) => b,
            PackedBytes::Huge(b) => b,
            PackedBytes::Mapped { map, start, len } => &map.bytes()[*start..*start + *len],
        }
    }

    pub fn qmatrix(&self) -> QMatrix<'_> {
        QMatrix { dtype: self.dtype, rows: self.rows, cols: self.cols, data: Cow::Borrowed(self.bytes()) }
    }

    pub fn n_bytes(&self) -> usize {
        self.bytes().len()
    }

    /// Drops the mapped pages of `part` (a sub-slice of `bytes()`) from the resident set once
    /// it was copied elsewhere (see `MappedBytes::release_pages`); owned bytes are left alone.
    pub fn release_pages_of(&self, part: &[u8]) {
        match &self.bytes {
            PackedBytes::Owned(_) | PackedBytes::Huge(_) => {}
            PackedBytes::Mapped { map, .. } => map.release_pages(part),
        }
    }

    /// The same matrix with its bytes copied out of the file mapping into huge-page memory
    /// (`huge_pages`), the mapped pages released band by band so it is never resident twice:
    /// the mapping's 4 KiB pages cost decode a TLB miss every 4 KiB (moved, the 0.5B Q8_0 file
    /// decoded 13-30% faster, before Q8_0 was interleaved).
    /// Small or already-owned matrices are returned as they are.
    pub fn into_huge_pages(self) -> Self {
        const BAND: usize = 8 << 20;
        if !matches!(self.bytes, PackedBytes::Mapped { .. }) || self.n_bytes() < (2 << 20) {
            return self;
        }
        let src = self.bytes();
        let mut moved = HugeBytes::zeroed(src.len());
        for (dst, part) in moved.chunks_mut(BAND).zip(src.chunks(BAND)) {
            dst.copy_from_slice(part);
            self.release_pages_of(part);
        }
        Self { bytes: PackedBytes::Huge(Arc::new(moved)), ..self }
    }

    pub fn dequantize(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.qmatrix().dequantize(), (self.rows, self.cols), &Device::Cpu)?)
    }
}
