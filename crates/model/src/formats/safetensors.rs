//! A Hugging Face safetensors checkpoint (single or sharded, F32/F16/BF16, and DeepSeek's
//! block-scaled FP8) as a `WeightSource`, memory-mapped so that start-up does not copy files twice.
//! F16 and BF16 matrices are lent out as stored (`packed`), so they are multiplied by our half-
//! precision kernels and never widened to an f32 copy; F32 and FP8 tensors load as f32.

use super::weights::{StorageSummary, WeightSource};
use crate::error::{ModelError, Result};
use crate::quant::{GgmlType, MappedBytes, PackedMatrix};
use candle_core::{Device, Tensor};
use memmap2::Mmap;
use safetensors::tensor::{Dtype, Metadata};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Shard {
    path: PathBuf,
    mmap: Arc<ShardMap>,
    header_len: usize,
    meta: Metadata,
}

/// One shard file's memory map, lent to the packed matrices that keep pointing into it.
struct ShardMap(Mmap);

impl MappedBytes for ShardMap {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn release_pages(&self, part: &[u8]) {
        super::mapped::release_pages(&self.0, part)
    }
}

/// A Hugging Face safetensors checkpoint: one file or shards listed in
/// `model.safetensors.index.json`.
pub struct SafetensorsDir {
    dir: PathBuf,
    shards: Vec<Shard>,
    /// tensor name -> shard index
    index: HashMap<String, usize>,
    /// FP8 block size from `quantization_config.weight_block_size` (DeepSeek: 128x128).
    fp8_block: (usize, usize),
}

impl SafetensorsDir {
    pub fn open(dir: &Path) -> Result<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.exists() {
            let text = std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| ModelError::Json { path: index_path.clone(), message: e.to_string() })?;
            let map = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| ModelError::key(&index_path, "weight_map", "missing or not an object"))?;
            let mut names: Vec<String> = map.values().filter_map(|v| v.as_str().map(str::to_string)).collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|n| dir.join(n)).collect()
        } else {
            let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| ModelError::io(dir, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
                .collect();
            found.sort();
            found
        };
        if files.is_empty() {
            return Err(ModelError::io(dir, "no *.safetensors file in the model directory"));
        }
        let mut shards = Vec::with_capacity(files.len());
        let mut index = HashMap::new();
        for (i, path) in files.into_iter().enumerate() {
            let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, e))?;
            // SAFETY: the file is opened read-only; a concurrent writer would be a user error that
            // at worst yields wrong numbers, which the shape/size checks below bound.
            let mmap = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(&path, e))?;
            let (header_len, meta) =
                safetensors::SafeTensors::read_metadata(&mmap).map_err(|e| ModelError::Safetensors {
                    path: path.clone(),
                    message: format!("corrupt or truncated safetensors file: {e}"),
                })?;
            check_data_in_file(&path, header_len, &meta, mmap.len())?;
            for (name, _) in meta.tensors() {
                index.insert(name.clone(), i);
            }
            shards.push(Shard { path, mmap: Arc::new(ShardMap(mmap)), header_len, meta });
        }
        let fp8_block = read_fp8_block(dir)?;
        Ok(Self { dir: dir.to_path_buf(), shards, index, fp8_block })
    }

    /// Raw bytes and metadata of a tensor as stored.
    pub fn raw(&self, name: &str) -> Option<(Dtype, Vec<usize>, &[u8], &Path)> {
        let shard = &self.shards[*self.index.get(name)?];
        let info = shard.meta.info(name)?;
        let start = 8 + shard.header_len + info.data_offsets.0;
        let end = 8 + shard.header_len + info.data_offsets.1;
        let bytes = shard.mmap.0.get(start..end)?;
        Some((info.dtype, info.shape.clone(), bytes, &shard.path))
    }

    /// A 2-D F16 or BF16 tensor as a packed matrix pointing into its shard's map.
    fn half_matrix(&self, name: &str) -> Option<PackedMatrix> {
        let shard = &self.shards[*self.index.get(name)?];
        let info = shard.meta.info(name)?;
        let dtype = match info.dtype {
            Dtype::F16 => GgmlType::F16,
            Dtype::BF16 => GgmlType::BF16,
            _ => return None,
        };
        let [rows, cols] = info.shape[..] else { return None };
        let start = 8 + shard.header_len + info.data_offsets.0;
        let len = info.data_offsets.1.checked_sub(info.data_offsets.0)?;
        // safetensors' own metadata check ties offsets to shapes; check again before lending.
        if rows.checked_mul(cols)?.checked_mul(2)? != len || start.checked_add(len)? > shard.mmap.0.len() {
            return None;
        }
        let map: Arc<dyn MappedBytes> = shard.mmap.clone();
        Some(PackedMatrix::mapped(dtype, rows, cols, map, start, len))
    }
}

/// The safetensors crate checks that the tensors tile the data section; this checks that the
/// data section lies inside the file, so a truncated file or an offset past its end is refused
/// by tensor name here rather than read as a missing tensor later.
fn check_data_in_file(path: &Path, header_len: usize, meta: &Metadata, file_len: usize) -> Result<()> {
    for (name, info) in meta.tensors() {
        let end = 8usize.checked_add(header_len).and_then(|h| h.checked_add(info.data_offsets.1));
        if end.is_none_or(|end| end > file_len) {
            return Err(ModelError::Tensor {
                file: path.display().to_string(),
                tensor: name.clone(),
                message: format!(
                    "its data (bytes {}..{} after the {header_len}-byte header) runs past the end of the \
                     {file_len}-byte file: truncated or corrupt",
                    info.data_offsets.0, info.data_offsets.1
                ),
            });
        }
    }
    Ok(())
}

fn read_fp8_block(dir: &Path) -> Result<(usize, usize)> {
    let cfg = dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&cfg) else { return Ok((128, 128)) };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { return Ok((128, 128)) };
    match json.pointer("/quantization_config/weight_block_size").and_then(|v| v.as_array()) {
        Some(a) if a.len() == 2 => {
            let b: Vec<usize> = a.iter().filter_map(|x| x.as_u64().map(|x| x as usize)).collect();
            if b.len() != 2 || b[0] == 0 || b[1] == 0 {
                return Err(ModelError::key(
                    &cfg,
                    "quantization_config.weight_block_size",
                    "must be two positive integers",
                ));
            }
            Ok((b[0], b[1]))
        }
        _ => Ok((128, 128)),
    }
}

fn f8_e4m3_to_f32(b: u8) -> f32 {
    // e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa; no infinities, 0x7f/0xff are NaN.
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = ((b >> 3) & 0x0f) as i32;
    let man = (b & 0x07) as f32;
    if exp == 0x0f && (b & 0x07) == 0x07 {
        return f32::NAN;
    }
    if exp == 0 { sign * man / 8.0 * 2f32.powi(-6) } else { sign * (1.0 + man / 8.0) * 2f32.powi(exp - 7) }
}

fn bytes_to_f32(dtype: Dtype, bytes: &[u8], file: &Path, name: &str) -> Result<Vec<f32>> {
    let chunks = |n: usize| bytes.chunks_exact(n);
    Ok(match dtype {
        Dtype::F32 => chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => chunks(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => chunks(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::F64 => chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect(),
        Dtype::F8_E4M3 => bytes.iter().map(|&b| f8_e4m3_to_f32(b)).collect(),
        other => {
            return Err(ModelError::Tensor {
                file: file.display().to_string(),
                tensor: name.to_string(),
                message: format!("unsupported dtype {other:?} (supported: F32, F16, BF16, F8_E4M3)"),
            });
        }
    })
}

impl WeightSource for SafetensorsDir {
    fn origin(&self) -> String {
        self.dir.display().to_string()
    }
    fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.raw(name).map(|(_, s, _, _)| s)
    }
    fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.index.keys().cloned().collect();
        n.sort();
        n
    }

    fn load_f32(&self, name: &str) -> Result<Tensor> {
        let (dtype, shape, bytes, file) = self
            .raw(name)
            .ok_or_else(|| ModelError::MissingTensor { tensor: name.to_string(), source_name: self.origin() })?;
        let mut values = bytes_to_f32(dtype, bytes, file, name)?;
        if dtype == Dtype::F8_E4M3 {
            self.apply_fp8_scales(name, &shape, &mut values)?;
        }
        Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
    }

    /// F16 and BF16 matrices stay as stored: the half-precision row kernels widen them in
    /// registers (f32 accumulators, as transformers computes a bf16 checkpoint on the CPU).
    fn packed(&self, name: &str) -> Option<Result<PackedMatrix>> {
        self.half_matrix(name).map(Ok)
    }
}

impl StorageSummary for SafetensorsDir {
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64) {
        let mut counts = BTreeMap::new();
        let mut bytes = 0u64;
        for name in self.index.keys() {
            if let Some((dt, _, data, _)) = self.raw(name) {
                *counts.entry(format!("{dt:?}")).or_insert(0) += 1;
                bytes += data.len() as u64;
            }
        }
        (counts, bytes)
    }
    fn stored_dtype(&self, name: &str) -> Option<String> {
        self.raw(name).map(|(dt, ..)| format!("{dt:?}"))
    }
}

impl SafetensorsDir {
    /// DeepSeek's FP8 layout: `W ≈ fp8(W) * scale_inv[i / 128, j / 128]`, edge blocks partial.
    fn apply_fp8_scales(&self, name: &str, shape: &[usize], values: &mut [f32]) -> Result<()> {
        let scale_name = format!("{name}_scale_inv");
        let origin = self.origin();
        let (rows, cols) = match shape {
            [r, c] => (*r, *c),
            _ => {
                return Err(ModelError::Tensor {
                    file: origin,
                    tensor: name.into(),
                    message: "FP8 weights must be 2-D".into(),
                });
            }
        };
        let (br, bc) = self.fp8_block;
        let expected = vec![rows.div_ceil(br), cols.div_ceil(bc)];
        let (sdt, sshape, sbytes, sfile) = self.raw(&scale_name).ok_or_else(|| ModelError::MissingTensor {
            tensor: scale_name.clone(),
            source_name: format!("{origin} (needed to dequantize FP8 tensor `{name}`)"),
        })?;
        if sshape != expected {
            return Err(ModelError::ShapeMismatch { tensor: scale_name, found: sshape, expected, source_name: origin });
        }
        let scales = bytes_to_f32(sdt, sbytes, sfile, &scale_name)?;
        let scol = expected[1];
        for r in 0..rows {
            let srow = &scales[(r / br) * scol..(r / br + 1) * scol];
            for (c, v) in values[r * cols..(r + 1) * cols].iter_mut().enumerate() {
                *v *= srow[c / bc];
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp8_decoding_matches_known_values() {
        assert_eq!(f8_e4m3_to_f32(0x38), 1.0);
        assert_eq!(f8_e4m3_to_f32(0xb8), -1.0);
        assert_eq!(f8_e4m3_to_f32(0x7e), 448.0);
        assert_eq!(f8_e4m3_to_f32(0x01), 2f32.powi(-9));
        assert!(f8_e4m3_to_f32(0x7f).is_nan());
    }
}
