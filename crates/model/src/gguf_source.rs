//! A GGUF file as a `WeightSource`: tensors are found under their Hugging Face names, so the
//! architecture files load GGUF and safetensors alike. Norms and embeddings are handed out as
//! f32; linear weights stay in their stored format (`PackedMatrix`), read from the memory map.

use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, TensorInfo};
use crate::gguf_arch::{gguf_to_hf_name, llama_qk_permutation};
use crate::quant::{dequantize_row, GgmlType, QMatrix};
use crate::weights::WeightSource;
use candle_core::{Device, Tensor};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

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
    Mapped { file: Arc<GgufFile>, tensor: usize },
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

    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            PackedBytes::Owned(b) => b,
            PackedBytes::Mapped { file, tensor } => file.data_of(&file.tensors()[*tensor]),
        }
    }

    pub fn qmatrix(&self) -> QMatrix<'_> {
        QMatrix { dtype: self.dtype, rows: self.rows, cols: self.cols, data: Cow::Borrowed(self.bytes()) }
    }

    pub fn n_bytes(&self) -> usize {
        self.bytes().len()
    }

    pub fn dequantize(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.qmatrix().dequantize(), (self.rows, self.cols), &Device::Cpu)?)
    }
}

pub struct GgufSource {
    pub file: Arc<GgufFile>,
    /// HF name -> index into the file's tensor table.
    by_hf_name: HashMap<String, usize>,
    /// Llama's q/k rows were permuted by llama.cpp's converter: (heads, kv heads) to undo it.
    llama_heads: Option<(usize, usize)>,
}

impl GgufSource {
    pub fn new(file: Arc<GgufFile>) -> Result<Self> {
        let by_hf_name = file
            .tensors()
            .iter()
            .enumerate()
            .filter_map(|(i, t)| gguf_to_hf_name(&t.name).map(|n| (n, i)))
            .collect();
        let meta = file.metadata();
        let arch = meta.get("general.architecture").and_then(|v| v.as_str()).unwrap_or("");
        let llama_heads = if arch == "llama" {
            let heads = meta.get("llama.attention.head_count").and_then(|v| v.as_u64()).unwrap_or(1) as usize;
            let kv = meta.get("llama.attention.head_count_kv").and_then(|v| v.as_u64()).unwrap_or(heads as u64) as usize;
            Some((heads, kv))
        } else {
            None
        };
        Ok(Self { file, by_hf_name, llama_heads })
    }

    fn info(&self, name: &str) -> Option<(usize, &TensorInfo)> {
        let i = *self.by_hf_name.get(name)?;
        Some((i, &self.file.tensors()[i]))
    }

    /// For Llama q/k weights, the permutation that restores HF's row order.
    fn row_order(&self, name: &str, rows: usize) -> Option<Vec<usize>> {
        let (heads, kv) = self.llama_heads?;
        let n = if name.ends_with("self_attn.q_proj.weight") || name.ends_with("self_attn.q_proj.bias") {
            heads
        } else if name.ends_with("self_attn.k_proj.weight") || name.ends_with("self_attn.k_proj.bias") {
            kv
        } else {
            return None;
        };
        // GGUF row p holds HF row perm[p]; invert it.
        let perm = llama_qk_permutation(rows, n);
        let mut inv = vec![0; rows];
        for (p, &src) in perm.iter().enumerate() {
            inv[src] = p;
        }
        Some(inv)
    }

    fn tensor_error(&self, name: &str, message: String) -> ModelError {
        ModelError::Tensor { file: self.file.path().display().to_string(), tensor: name.to_string(), message }
    }

    /// The tensor in its stored format, rows in HF order.
    pub fn packed_matrix(&self, name: &str) -> Result<PackedMatrix> {
        let (i, info) = self.info(name).ok_or_else(|| ModelError::MissingTensor { tensor: name.into(), source_name: self.origin() })?;
        let (rows, cols) = (info.n_rows(), info.row_len());
        if !info.dtype.is_supported() {
            return Err(self.tensor_error(name, format!("type {} has no kernel", info.dtype)));
        }
        match self.row_order(name, rows) {
            None => Ok(PackedMatrix { dtype: info.dtype, rows, cols, bytes: PackedBytes::Mapped { file: self.file.clone(), tensor: i } }),
            Some(order) => {
                let data = self.file.data_of(info);
                let rb = data.len() / rows.max(1);
                let mut out = Vec::with_capacity(data.len());
                for &r in &order {
                    out.extend_from_slice(&data[r * rb..(r + 1) * rb]);
                }
                Ok(PackedMatrix::owned(info.dtype, rows, cols, out))
            }
        }
    }
}

impl WeightSource for GgufSource {
    fn origin(&self) -> String {
        self.file.path().display().to_string()
    }
    fn contains(&self, name: &str) -> bool {
        self.by_hf_name.contains_key(name)
    }
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.info(name).map(|(_, t)| t.shape())
    }
    fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.by_hf_name.keys().cloned().collect();
        n.sort();
        n
    }
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64) {
        let mut counts = BTreeMap::new();
        let mut bytes = 0;
        for t in self.file.tensors() {
            *counts.entry(t.dtype.name().to_string()).or_insert(0) += 1;
            bytes += t.n_bytes;
        }
        (counts, bytes)
    }

    fn load_f32(&self, name: &str) -> Result<Tensor> {
        let packed = self.packed_matrix(name)?;
        let (_, info) = self.info(name).ok_or_else(|| ModelError::MissingTensor { tensor: name.into(), source_name: self.origin() })?;
        let mut values = vec![0f32; packed.rows * packed.cols];
        let rb = packed.bytes().len() / packed.rows.max(1);
        for (r, out) in values.chunks_mut(packed.cols.max(1)).enumerate() {
            dequantize_row(packed.dtype, &packed.bytes()[r * rb..(r + 1) * rb], out).map_err(|e| self.tensor_error(name, e.to_string()))?;
        }
        Ok(Tensor::from_vec(values, info.shape(), &Device::Cpu)?)
    }

    fn packed(&self, name: &str) -> Option<Result<PackedMatrix>> {
        let (_, info) = self.info(name)?;
        // f32 stays on candle's dense path; everything else runs through our kernels.
        if info.dtype == GgmlType::F32 || info.dims.len() != 2 {
            return None;
        }
        Some(self.packed_matrix(name))
    }
}
