//! A GGUF file as a `WeightSource`: tensors are found under their Hugging Face names, so the
//! architecture files load GGUF and safetensors alike. Norms and embeddings are handed out as
//! f32; linear weights stay in their stored format (`PackedMatrix`), read from the memory map.
//! DeepSeek's stacked expert tensors (`blk.L.ffn_gate_exps.weight`, experts × rows × cols) are
//! seen as one matrix per expert (`model.layers.L.mlp.experts.E.gate_proj.weight`), a byte
//! range of the map; MLA's split `attn_k_b` / `attn_v_b` are joined back into `kv_b_proj` (f32).

use super::names::{
    gguf_experts_of, gguf_kv_b_part_of, gguf_to_hf_name, hf_expert_name, join_kv_b, llama_qk_permutation,
};
use crate::error::{ModelError, Result};
use crate::formats::gguf::{GgufFile, TensorInfo};
use crate::formats::weights::{StorageSummary, WeightSource};
use crate::quant::{GgmlType, MappedBytes, PackedMatrix, dequantize_row};
use candle_core::{Device, Tensor};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One tensor's bytes in the file's memory map, lent to a `PackedMatrix`.
struct MappedTensor {
    file: Arc<GgufFile>,
    tensor: usize,
}

impl MappedBytes for MappedTensor {
    fn bytes(&self) -> &[u8] {
        self.file.data_of(&self.file.tensors()[self.tensor])
    }
    fn release_pages(&self, part: &[u8]) {
        self.file.release_pages(part)
    }
}

/// Where an HF-named tensor lives in the file.
#[derive(Clone, Copy, Debug)]
enum Entry {
    Tensor(usize),
    /// Expert `expert` of a stacked (experts, rows, cols) tensor.
    Expert {
        tensor: usize,
        expert: usize,
    },
    /// kv_b_proj rebuilt from attn_k_b (heads, r, nope) and attn_v_b (heads, v, r).
    KvB {
        k_b: usize,
        v_b: usize,
    },
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
            let kv =
                meta.get("llama.attention.head_count_kv").and_then(|v| v.as_u64()).unwrap_or(heads as u64) as usize;
            Some((heads, kv))
        } else {
            None
        };
        Ok(Self { file, by_hf_name, llama_heads })
    }

    fn entry(&self, name: &str) -> Result<Entry> {
        self.by_hf_name
            .get(name)
            .copied()
            .ok_or_else(|| ModelError::MissingTensor { tensor: name.into(), source_name: self.origin() })
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
            dequantize_row(info.dtype, &data[r * rb..(r + 1) * rb], out)
                .map_err(|e| self.tensor_error(name, e.to_string()))?;
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
                    None => {
                        let map = Arc::new(MappedTensor { file: self.file.clone(), tensor: i });
                        Ok(PackedMatrix::mapped(info.dtype, rows, cols, map, 0, info.n_bytes as usize))
                    }
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
                let map = Arc::new(MappedTensor { file: self.file.clone(), tensor });
                Ok(PackedMatrix::mapped(info.dtype, rows, cols, map, expert * len, len))
            }
            Entry::KvB { k_b, v_b } => {
                let (ki, vi) = (self.tensor_info(k_b), self.tensor_info(v_b));
                let (nope, r, heads, v) =
                    (ki.dims[0] as usize, ki.dims[1] as usize, ki.dims[2] as usize, vi.dims[1] as usize);
                let kv = join_kv_b(
                    &self.dequantize_tensor(&ki.name, ki)?,
                    &self.dequantize_tensor(&vi.name, vi)?,
                    heads,
                    nope,
                    v,
                    r,
                );
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

    fn load_f32(&self, name: &str) -> Result<Tensor> {
        let shape = self
            .shape_of(name)
            .ok_or_else(|| ModelError::MissingTensor { tensor: name.into(), source_name: self.origin() })?;
        let packed = self.packed_matrix(name)?;
        let mut values = vec![0f32; packed.rows * packed.cols];
        let rb = packed.bytes().len() / packed.rows.max(1);
        for (r, out) in values.chunks_mut(packed.cols.max(1)).enumerate() {
            dequantize_row(packed.dtype, &packed.bytes()[r * rb..(r + 1) * rb], out)
                .map_err(|e| self.tensor_error(name, e.to_string()))?;
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

impl StorageSummary for GgufSource {
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64) {
        let mut counts = BTreeMap::new();
        let mut bytes = 0;
        for t in self.file.tensors() {
            *counts.entry(t.dtype.name().to_string()).or_insert(0) += 1;
            bytes += t.n_bytes;
        }
        (counts, bytes)
    }
    fn stored_dtype(&self, name: &str) -> Option<String> {
        let i = match *self.by_hf_name.get(name)? {
            Entry::Tensor(i) | Entry::Expert { tensor: i, .. } | Entry::KvB { k_b: i, .. } => i,
        };
        Some(self.tensor_info(i).dtype.name().to_string())
    }
}
