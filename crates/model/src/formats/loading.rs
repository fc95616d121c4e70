//! The loader's view of a checkpoint: optional quantization while loading (`--quantize`, what
//! mistral.rs calls in-situ quantization) and a record of the path each tensor took, stored type
//! → the type the kernels compute with, for `reasoner info` and the load report.
//!
//! Quantizing here gives the bytes `reasoner quantize` would write for the same tensor (the same
//! per-tensor choice, the same fallbacks, the same row quantizer), so a model quantized at load
//! computes what the quantized GGUF computes. Rows are converted a band at a time straight from
//! the stored (mapped) bytes, so no f32 copy of a whole matrix is made for f16/bf16 sources, and a
//! converted band's source pages leave memory once read.

use super::gguf::names::hf_to_gguf_name;
use super::quantize::fallback_type;
use super::weights::{StorageSummary, WeightSource};
use crate::error::{ModelError, Result};
use crate::quant::{self, GgmlType, PackedMatrix};
use candle_core::Tensor;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// How a model is loaded, beyond where from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LoadOptions {
    /// Quantize every linear weight to this type while loading (q8_0, q4_0, q5_0, q4_k, q6_k, f16,
    /// bf16): the choice `reasoner quantize --to` makes, output head and fallbacks included.
    /// `F32` widens every weight to f32 instead (the reference's numbers, at 4 bytes a weight).
    /// `None`: weights as stored, except FP8 (DeepSeek's e4m3 with 128×128 block scales), which
    /// becomes Q8_0 (8.5 bits a weight; f32 would be 4 bytes).
    pub quantize: Option<GgmlType>,
    /// Routed experts of a mixture of experts left in the file's memory map (paged in by the OS
    /// as tokens use them) instead of copied into memory at load. `None`: when the weights are
    /// larger than 3/4 of the memory available now.
    pub lazy_experts: Option<bool>,
}

/// The path one tensor took: its stored type and the form the model holds it in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorPath {
    pub tensor: String,
    /// As stored in the file, lower case (`bf16`, `f32`, `q4_k`, `f8_e4m3`).
    pub stored: String,
    /// What the kernels multiply: the same packed type, another one (quantized at load), or
    /// `f32` (widened; candle's dense path).
    pub compute: String,
}

/// Weights from `inner`, quantized at load where `opts` says so, each tensor's path recorded.
pub struct LoadingSource<'a> {
    inner: &'a dyn Checkpoint,
    opts: LoadOptions,
    lazy_experts: bool,
    paths: Mutex<BTreeMap<String, TensorPath>>,
}

/// A weight source that can also say what it stores (every source the loader opens).
pub trait Checkpoint: WeightSource + StorageSummary {}
impl<T: WeightSource + StorageSummary> Checkpoint for T {}

/// Rows converted per task: enough work to amortize the task, little scratch.
const BAND_ROWS: usize = 64;

impl<'a> LoadingSource<'a> {
    pub fn new(inner: &'a dyn Checkpoint, opts: LoadOptions) -> Self {
        let lazy_experts = opts.lazy_experts.unwrap_or_else(|| {
            let weights = inner.storage_summary().1;
            available_memory().is_some_and(|avail| weights > avail / 4 * 3)
        });
        Self { inner, opts, lazy_experts, paths: Mutex::new(BTreeMap::new()) }
    }

    /// Every tensor handed out so far, by name.
    pub fn paths(&self) -> Vec<TensorPath> {
        self.paths.lock().map(|p| p.values().cloned().collect()).unwrap_or_default()
    }

    fn record(&self, tensor: &str, compute: &str) {
        let stored = self.inner.stored_dtype(tensor).unwrap_or_else(|| "?".into()).to_ascii_lowercase();
        let path = TensorPath { tensor: tensor.to_string(), stored, compute: compute.to_string() };
        if let Ok(mut p) = self.paths.lock() {
            p.insert(tensor.to_string(), path);
        }
    }

    /// The type `reasoner quantize --to target` gives this 2-D tensor (before fallbacks), or
    /// None where the tensor keeps its stored form.
    fn planned_type(&self, name: &str, target: GgmlType) -> Option<GgmlType> {
        // MLA's kv_b_proj is split (and half transposed) by the GGUF writer and rebuilt in f32 by
        // the model at load, so it is not quantized here either.
        if name.ends_with("self_attn.kv_b_proj.weight") {
            return None;
        }
        let gguf = hf_to_gguf_name(name).unwrap_or_default();
        if gguf.ends_with("ffn_gate_inp.weight") {
            return None; // expert routers stay f32, as in llama.cpp
        }
        // llama.cpp's Q4_K_M keeps the output head at Q6_K; so does `reasoner quantize`.
        Some(if gguf == "output.weight" && matches!(target, GgmlType::Q4K | GgmlType::Q4_0) {
            GgmlType::Q6K
        } else {
            target
        })
    }

    /// `name` quantized to `dtype`, band by band from the source's stored rows.
    fn quantize_matrix(&self, name: &str, rows: usize, cols: usize, dtype: GgmlType) -> Result<PackedMatrix> {
        let err = |e: quant::QuantError| ModelError::Tensor {
            file: self.inner.origin(),
            tensor: name.to_string(),
            message: format!("quantizing to {} at load: {e}", dtype.name()),
        };
        let rb = dtype.row_bytes(cols as u64).ok_or_else(|| ModelError::Tensor {
            file: self.inner.origin(),
            tensor: name.to_string(),
            message: format!("rows of {cols} values do not fill whole {} blocks", dtype.name()),
        })? as usize;
        let mut out =
            vec![0u8; rows.checked_mul(rb).ok_or_else(|| ModelError::Invalid(format!("`{name}`: too large")))?];
        if out.is_empty() {
            return Ok(PackedMatrix::owned(dtype, rows, cols, out)); // a zero dimension: nothing to convert
        }
        match self.inner.packed(name).transpose()? {
            Some(src) if (src.rows, src.cols) != (rows, cols) => {
                return Err(ModelError::ShapeMismatch {
                    tensor: name.to_string(),
                    found: vec![src.rows, src.cols],
                    expected: vec![rows, cols],
                    source_name: self.inner.origin(),
                });
            }
            Some(src) => {
                let src_rb = src.n_bytes() / rows.max(1);
                out.par_chunks_mut(rb * BAND_ROWS).enumerate().try_for_each(|(band, dst)| {
                    let first = band * BAND_ROWS;
                    let n = dst.len() / rb.max(1);
                    let part = &src.bytes()[first * src_rb..(first + n) * src_rb];
                    let mut row = vec![0f32; cols];
                    for (i, d) in dst.chunks_exact_mut(rb).enumerate() {
                        quant::dequantize_row(src.dtype, &part[i * src_rb..(i + 1) * src_rb], &mut row).map_err(err)?;
                        quant::quantize_row(dtype, &row, d).map_err(err)?;
                    }
                    src.release_pages_of(part);
                    Ok::<_, ModelError>(())
                })?;
            }
            None => {
                let values: Vec<f32> = self.inner.load_f32(name)?.flatten_all()?.to_vec1()?;
                if values.len() != rows * cols {
                    return Err(ModelError::Invalid(format!("`{name}`: {} values for {rows}x{cols}", values.len())));
                }
                out.par_chunks_mut(rb)
                    .zip(values.par_chunks(cols))
                    .try_for_each(|(d, row)| quant::quantize_row(dtype, row, d).map_err(err))?;
            }
        }
        Ok(PackedMatrix::owned(dtype, rows, cols, out))
    }
}

impl WeightSource for LoadingSource<'_> {
    fn origin(&self) -> String {
        self.inner.origin()
    }
    fn contains(&self, name: &str) -> bool {
        self.inner.contains(name)
    }
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.inner.shape_of(name)
    }
    fn names(&self) -> Vec<String> {
        self.inner.names()
    }

    fn load_f32(&self, name: &str) -> Result<Tensor> {
        let t = self.inner.load_f32(name)?;
        self.record(name, "f32");
        Ok(t)
    }

    // `get` and `get_optional` go to the source's own (a random init makes tensors on request).
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.inner.get(name, shape)?;
        self.record(name, "f32");
        Ok(t)
    }

    fn get_optional(&self, name: &str, shape: &[usize]) -> Result<Option<Tensor>> {
        let t = self.inner.get_optional(name, shape)?;
        if t.is_some() {
            self.record(name, "f32");
        }
        Ok(t)
    }

    fn keep_mapped(&self, name: &str) -> bool {
        // Quantized at load (FP8 always is), a matrix is already in memory; only stored bytes can
        // stay mapped.
        let converted = self.inner.stored_dtype(name).is_some_and(|d| d.eq_ignore_ascii_case("f8_e4m3"));
        self.lazy_experts && self.opts.quantize.is_none() && !converted && name.contains(".mlp.experts.")
    }

    fn packed(&self, name: &str) -> Option<Result<PackedMatrix>> {
        let stored = self.inner.stored_dtype(name).map(|s| s.to_ascii_lowercase());
        let planned = match (self.opts.quantize, self.inner.shape_of(name).as_deref()) {
            (Some(GgmlType::F32), _) => return None,
            (Some(target), Some(&[rows, cols])) => {
                self.planned_type(name, target).map(|t| (rows, cols, fallback_type(t, cols)))
            }
            (None, Some(&[rows, cols])) if stored.as_deref() == Some("f8_e4m3") => {
                self.planned_type(name, GgmlType::Q8_0).map(|t| (rows, cols, fallback_type(t, cols)))
            }
            _ => None,
        };
        let result = match planned {
            // Already stored in the planned type: kept as it is (as `quantize` would copy it).
            Some((_, _, dtype)) if stored.as_deref() == Some(dtype.name()) => self.inner.packed(name),
            Some((rows, cols, dtype)) => Some(self.quantize_matrix(name, rows, cols, dtype)),
            None => self.inner.packed(name),
        };
        if let Some(Ok(p)) = &result {
            let mapped = if self.keep_mapped(name) { " (mapped)" } else { "" };
            self.record(name, &format!("{}{mapped}", p.dtype.name()));
        }
        result
    }
}

impl StorageSummary for LoadingSource<'_> {
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64) {
        self.inner.storage_summary()
    }
    fn stored_dtype(&self, name: &str) -> Option<String> {
        self.inner.stored_dtype(name)
    }
}

/// `MemAvailable` from /proc/meminfo, in bytes (Linux; None elsewhere).
fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `paths` counted by (stored → compute), for a one-line report: `bf16 → bf16 ×84, f32 → f32 ×25`.
pub fn summarize_paths(paths: &[TensorPath]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for p in paths {
        *out.entry(format!("{} → {}", p.stored, p.compute)).or_insert(0) += 1;
    }
    out
}
