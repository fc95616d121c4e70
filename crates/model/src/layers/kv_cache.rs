//! Per-sequence caches. Each layer keeps a few growable buffers appended along the token axis:
//! keys and values for ordinary attention, or the compressed latent and shared rope key for MLA.
//! Buffers double when full, so appending a token is amortised O(1) copies and attention reads a
//! view of the first `len` rows without copying.
//!
//! Keys and values are kept in f32 (exact, the reference's numbers) or f16 (half the memory
//! and half the bytes attention streams per token, as llama.cpp's default cache).

use candle_core::{DType, Device, Result, Tensor};

/// How a cache stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvDtype {
    #[default]
    F32,
    F16,
}

impl KvDtype {
    pub fn dtype(self) -> DType {
        match self {
            KvDtype::F32 => DType::F32,
            KvDtype::F16 => DType::F16,
        }
    }
    pub fn size_in_bytes(self) -> usize {
        self.dtype().size_in_bytes()
    }
}

/// Growable buffers, each shaped (a, capacity, b), appended along dim 1.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    buffers: Vec<Tensor>,
    len: usize,
    dtype: KvDtype,
}

impl LayerCache {
    /// An empty cache that stores its values as `dtype`.
    pub fn new(dtype: KvDtype) -> Self {
        Self { dtype, ..Self::default() }
    }
    pub fn dtype(&self) -> KvDtype {
        self.dtype
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append `new[i]` (a_i, n, b_i) to buffer i (converted to the cache's dtype) and return
    /// views of all rows so far.
    pub fn append(&mut self, new: &[&Tensor]) -> Result<Vec<Tensor>> {
        let n = new.first().map(|t| t.dims()[1]).unwrap_or(0);
        let cap = self.buffers.first().map(|b| b.dims()[1]).unwrap_or(0);
        if self.buffers.is_empty() || self.len + n > cap {
            let new_cap = (self.len + n).next_power_of_two().max(64);
            let mut grown = Vec::with_capacity(new.len());
            for (i, t) in new.iter().enumerate() {
                let (a, _, b) = t.dims3()?;
                let buf = Tensor::zeros((a, new_cap, b), self.dtype.dtype(), &Device::Cpu)?;
                if self.len > 0 {
                    buf.slice_set(&self.buffers[i].narrow(1, 0, self.len)?.contiguous()?, 1, 0)?;
                }
                grown.push(buf);
            }
            self.buffers = grown;
        }
        for (buf, t) in self.buffers.iter().zip(new) {
            buf.slice_set(&t.to_dtype(self.dtype.dtype())?.contiguous()?, 1, self.len)?;
        }
        self.len += n;
        self.buffers.iter().map(|b| b.narrow(1, 0, self.len)).collect()
    }

    /// Drop everything past `len` rows (speculative decoding rolls back rejected drafts).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Bytes held for the rows in use.
    pub fn used_bytes(&self) -> usize {
        self.buffers.iter().map(|b| b.dims()[0] * b.dims()[2] * self.len * self.dtype.size_in_bytes()).sum()
    }

    /// Bytes allocated, rows not yet used included (capacity grows in powers of two).
    pub fn allocated_bytes(&self) -> usize {
        self.buffers.iter().map(|b| b.elem_count() * self.dtype.size_in_bytes()).sum()
    }
}

/// Everything one sequence has cached: a `LayerCache` per layer and its position.
#[derive(Debug, Clone, Default)]
pub struct SequenceCache {
    pub layers: Vec<LayerCache>,
}

impl SequenceCache {
    /// An f32 cache.
    pub fn new(n_layers: usize) -> Self {
        Self::with_dtype(n_layers, KvDtype::F32)
    }
    pub fn with_dtype(n_layers: usize, dtype: KvDtype) -> Self {
        Self { layers: vec![LayerCache::new(dtype); n_layers] }
    }
    pub fn dtype(&self) -> KvDtype {
        self.layers.first().map(LayerCache::dtype).unwrap_or_default()
    }
    /// Number of tokens already processed (the position of the next one).
    pub fn position(&self) -> usize {
        self.layers.first().map(|l| l.len()).unwrap_or(0)
    }
    pub fn truncate(&mut self, len: usize) {
        self.layers.iter_mut().for_each(|l| l.truncate(len));
    }
    pub fn used_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.used_bytes()).sum()
    }
    pub fn allocated_bytes(&self) -> usize {
        self.layers.iter().map(|l| l.allocated_bytes()).sum()
    }
}
