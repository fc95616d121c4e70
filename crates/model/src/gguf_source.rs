//! A GGUF file as a `WeightSource`: tensors are found under their Hugging Face names, so the
//! architecture files load GGUF and safetensors alike. Norms and embeddings are handed out as
//! f32; linear weights stay in their stored format (`PackedMatrix`), read from the memory map.
//! DeepSeek's stacked expert tensors (`blk.L.ffn_gate_exps.weight`, experts × rows × cols) are
//! seen as one matrix per expert (`model.layers.L.mlp.experts.E.gate_proj.weight`), a byte
//! range of the map; MLA's split `attn_k_b` / `attn_v_b` are joined back into `kv_b_proj` (f32).

use crate::huge_pages::HugeBytes;
use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, TensorInfo};
use crate::gguf_arch::{gguf_experts_of, gguf_kv_b_part_of, gguf_to_hf_name, hf_expert_name, join_kv_b, llama_qk_permutation};
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
    /// Moved out of the mapping into huge-page memory (see `into_huge_pages`).
    Huge(Arc<HugeBytes>),
    Mapped { file: Arc<GgufFile>, tensor: usize },
    /// Part of a mapped tensor: one expert of a stacked 3-D tensor.
    MappedRange { file: Arc<GgufFile>, tensor: usize, start: usize, len: usize },
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
            PackedBytes::Huge(b) => b,
            PackedBytes::Mapped { file, tensor } => file.data_of(&file.tensors()[*tensor]),
            PackedBytes::MappedRange { file, tensor, start, len } => &file.data_of(&file.tensors()[*tensor])[*start..*start + *len],
        }
    }

    pub fn qmatrix(&self) -> QMatrix<'_> {
        QMatrix { dtype: self.dtype, rows: self.rows, cols: self.cols, data: Cow::Borrowed(self.bytes()) }
    }

    pub fn n_bytes(&self) -> usize {
        self.bytes().len()
    }

    /// Drops the mapped pages of `part` (a sub-slice of `bytes()`) from the resident set once
    /// it was copied elsewhere (see `GgufFile::release_pages`); owned bytes are left alone.
    pub fn release_pages_of(&self, part: &[u8]) {
        match &self.bytes {
            PackedBytes::Owned(_) | PackedBytes::Huge(_) => {}
            PackedBytes::Mapped { file, .. } | PackedBytes::MappedRange { file, .. } => file.release_pages(part),
        }
    }

    /// The same matrix with its bytes copied out of the file mapping into huge-page memory
    /// (`huge_pages`), the mapped pages released band by band so it is never resident twice:
    /// the mapping's 4 KiB pages cost decode a TLB miss every 4 KiB (moved, the 0.5B Q8_0 file
    /// decoded 13-30% faster, before Q8_0 was interleaved).
    /// Small or already-owned matrices are returned as they are.
    pub fn into_huge_pages(self) -> Self {
        const BAND: usize = 8 << 20;
        if !matches!(self.bytes, PackedBytes::Mapped { .. } | PackedBytes::MappedRange { .. }) || self.n_bytes() < (2 << 20) {
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

/// Where an HF-named tensor lives in the file.
#[derive(Clone, Copy, Debug)]
enum Entry {
    Tensor(usize),
    /// Expert `expert` of a stacked (experts, rows, cols) tensor.
    Expert { tensor: usize, expert: usize },
    /// kv_b_proj rebuilt from attn_k_b (heads, r, nope) and attn_v_b (heads, v, r).
    KvB { k_b: usize, v_b: usize },
}

pub struct GgufSource {
    pub file: Arc<GgufFile>,
    /// HF name -> where it lives.
    by_hf_name: HashMap<String, Entry>,
    /// Llama's q/k rows were permuted by llama.cpp's converter: (heads, kv heads) to undo it.
    llama_heads: Option<(usize, usize)>,
}

impl GgufSource {
    pub fn new(file: Arc<GgufFile>) -> Result<Self> {
        let mut by_hf_name = HashMap::new();
        let mut kv_b_parts: BTreeMap<usize, [Option<usize>; 2]> = BTreeMap::new();
        for (i, t) in file.tensors().iter().enumerate() {
            if let Some(n) = gguf_to_hf_name(&t.name) {
                by_hf_name.insert(n, Entry::Tensor(i));
            } else if let (Some((layer, proj)), 3) = (gguf_experts_of(&t.name), t.dims.len()) {
                for e in 0..t.dims[2] as usize {
                    by_hf_name.insert(hf_expert_name(layer, e, proj), Entry::Expert { tensor: i, expert: e });
                }
            } else if let (Some((layer, is_v)), 3) = (gguf_kv_b_part_of(&t.name), t.dims.len()) {
                kv_b_parts.entry(layer).or_default()[is_v as usize] = Some(i);
            }
        }
        for (layer, parts) in kv_b_parts {
            let name = format!("model.layers.{layer}.self_attn.kv_b_proj.weight");
            if let ([Some(k_b), Some(v_b)], false) = (parts, by_hf_name.contains_key(&name)) {
                let (kd, vd) = (&file.tensors()[k_b].dims, &file.tensors()[v_b].dims);
                // k_b {nope, r, h} and v_b {r, v, h} must agree on r and h.
                if kd[1] == vd[0] && kd[2] == vd[2] {
                    by_hf_name.insert(name, Entry::KvB { k_b, v_b });
                }
            }
        }
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

    fn entry(&self, name: &str) -> Result<Entry> {
        self.by_hf_name.get(name).copied().ok_or_else(|| ModelError::MissingTensor { tensor: name.into(), source_name: self.origin() })
    }

    fn tensor_info(&self, i: usize) -> &TensorInfo {
        &self.file.tensors()[i]
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

    fn check_supported(&self, name: &str, info: &TensorInfo) -> Result<()> {
        if info.dtype.is_supported() {
            Ok(())
        } else {
            Err(self.tensor_error(name, format!("type {} has no kernel", info.dtype)))
        }
    }

    /// All values of a file tensor as f32, rows in file order.
    fn dequantize_tensor(&self, name: &str, info: &TensorInfo) -> Result<Vec<f32>> {
        self.check_supported(name, info)?;
        let (rows, cols) = (info.n_rows(), info.row_len());
        let data = self.file.data_of(info);
        let rb = data.len() / rows.max(1);
        let mut values = vec![0f32; rows * cols];
        for (r, out) in values.chunks_mut(cols.max(1)).enumerate() {
            dequantize_row(info.dtype, &data[r * rb..(r + 1) * rb], out).map_err(|e| self.tensor_error(name, e.to_string()))?;
        }
        Ok(values)
    }

    /// The tensor in its stored format, rows in HF order. (A kv_b_proj rebuilt from the split
    /// halves comes back as an owned f32 matrix.)
    pub fn packed_matrix(&self, name: &str) -> Result<PackedMatrix> {
        match self.entry(name)? {
            Entry::Tensor(i) => {
                let info = self.tensor_info(i);
                let (rows, cols) = (info.n_rows(), info.row_len());
                self.check_supported(name, info)?;
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
            Entry::Expert { tensor, expert } => {
                let info = self.tensor_info(tensor);
                self.check_supported(name, info)?;
                let (cols, rows) = (info.dims[0] as usize, info.dims[1] as usize);
                let len = self.file.data_of(info).len() / info.dims[2].max(1) as usize;
                let bytes = PackedBytes::MappedRange { file: self.file.clone(), tensor, start: expert * len, len };
                Ok(PackedMatrix { dtype: info.dtype, rows, cols, bytes })
            }
            Entry::KvB { k_b, v_b } => {
                let (ki, vi) = (self.tensor_info(k_b), self.tensor_info(v_b));
                let (nope, r, heads, v) = (ki.dims[0] as usize, ki.dims[1] as usize, ki.dims[2] as usize, vi.dims[1] as usize);
                let kv = join_kv_b(&self.dequantize_tensor(&ki.name, ki)?, &self.dequantize_tensor(&vi.name, vi)?, heads, nope, v, r);
                let bytes = kv.iter().flat_map(|x| x.to_le_bytes()).collect();
                Ok(PackedMatrix::owned(GgmlType::F32, heads * (nope + v), r, bytes))
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
        Some(match *self.by_hf_name.get(name)? {
            Entry::Tensor(i) => self.tensor_info(i).shape(),
            Entry::Expert { tensor, .. } => {
                let d = &self.tensor_info(tensor).dims;
                vec![d[1] as usize, d[0] as usize]
            }
            Entry::KvB { k_b, v_b } => {
                let (kd, vd) = (&self.tensor_info(k_b).dims, &self.tensor_info(v_b).dims);
                vec![(kd[2] * (kd[0] + vd[1])) as usize, kd[1] as usize]
            }
        })
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
        let shape = self.shape_of(name).ok_or_else(|| ModelError::MissingTensor { tensor: name.into(), source_name: self.origin() })?;
        let packed = self.packed_matrix(name)?;
        let mut values = vec![0f32; packed.rows * packed.cols];
        let rb = packed.bytes().len() / packed.rows.max(1);
        for (r, out) in values.chunks_mut(packed.cols.max(1)).enumerate() {
            dequantize_row(packed.dtype, &packed.bytes()[r * rb..(r + 1) * rb], out).map_err(|e| self.tensor_error(name, e.to_string()))?;
        }
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
    }

    fn packed(&self, name: &str) -> Option<Result<PackedMatrix>> {
        let dtype = match *self.by_hf_name.get(name)? {
            Entry::Tensor(i) if self.tensor_info(i).dims.len() == 2 => self.tensor_info(i).dtype,
            Entry::Expert { tensor, .. } => self.tensor_info(tensor).dtype,
            // Rebuilt in f32 (the key half is transposed, which packed rows cannot be).
            Entry::KvB { .. } | Entry::Tensor(_) => return None,
        };
        // f32 stays on candle's dense path; everything else runs through our kernels.
        if dtype == GgmlType::F32 {
            return None;
        }
        Some(self.packed_matrix(name))
    }
}
