//! GGUF writer: metadata, tensor infos and tensor data, each tensor padded to the alignment, in
//! the layout llama.cpp's reader demands (offsets contiguous in info order). Written to a temp
//! file beside the target, synced, then renamed over it, so a crash never leaves half a model.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::metadata::{MetaArray, MetaValue, Metadata};
use super::reader::align_up;
use super::{GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgufError, KEY_ALIGNMENT, MAX_DIMS};
use crate::quant::GgmlType;

type ProducerError = Box<dyn std::error::Error + Send + Sync>;

/// A tensor's bytes: given now, or made when the writer reaches it (so a quantizer holds one
/// tensor in memory at a time).
pub enum TensorBytes<'a> {
    Ready(Cow<'a, [u8]>),
    Later(Box<dyn FnOnce() -> Result<Vec<u8>, ProducerError> + 'a>),
}

struct PendingTensor<'a> {
    name: String,
    dims: Vec<u64>,
    dtype: GgmlType,
    n_bytes: u64,
    bytes: TensorBytes<'a>,
}

/// Collects metadata and tensors, then writes one GGUF v3 file.
pub struct GgufWriter<'a> {
    metadata: Metadata,
    tensors: Vec<PendingTensor<'a>>,
    names: HashSet<String>,
}

impl Default for GgufWriter<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> GgufWriter<'a> {
    pub fn new() -> Self {
        Self { metadata: Metadata::new(), tensors: Vec::new(), names: HashSet::new() }
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Sets one metadata pair (replacing an earlier value for the same key).
    pub fn set(&mut self, key: impl Into<String>, value: MetaValue) {
        self.metadata.set(key, value);
    }

    /// Sets `general.alignment`; must be a power of two.
    pub fn set_alignment(&mut self, alignment: u32) {
        self.metadata.set(KEY_ALIGNMENT, MetaValue::U32(alignment));
    }

    /// Adds a tensor. `dims` are in ggml order (row length first). The byte length is checked
    /// against the shape now for ready bytes and at write time for deferred ones.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        dtype: GgmlType,
        bytes: TensorBytes<'a>,
    ) -> Result<(), GgufError> {
        let name = name.into();
        let spec = |reason: String| GgufError::TensorSpec { tensor: name.clone(), reason };
        if self.names.contains(&name) {
            return Err(spec("a tensor of this name was already added".into()));
        }
        if dims.len() > MAX_DIMS {
            return Err(spec(format!("{} dims, at most {MAX_DIMS}", dims.len())));
        }
        let n = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let row_len = dims.first().copied().unwrap_or(1);
        let n_bytes = n
            .and_then(|n| dtype.row_bytes(row_len)?.checked_mul(n / row_len.max(1)))
            .ok_or_else(|| spec(format!("shape {dims:?} is not whole {dtype} blocks per row")))?;
        if let TensorBytes::Ready(b) = &bytes
            && b.len() as u64 != n_bytes
        {
            return Err(spec(format!("{} bytes given, {dtype} {dims:?} needs {n_bytes}", b.len())));
        }
        self.names.insert(name.clone());
        self.tensors.push(PendingTensor { name, dims: dims.to_vec(), dtype, n_bytes, bytes });
        Ok(())
    }

    /// Convenience for bytes already in memory.
    pub fn add_tensor_bytes(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        dtype: GgmlType,
        bytes: impl Into<Cow<'a, [u8]>>,
    ) -> Result<(), GgufError> {
        self.add_tensor(name, dims, dtype, TensorBytes::Ready(bytes.into()))
    }

    fn alignment(&self) -> Result<u64, String> {
        match self.metadata.get(KEY_ALIGNMENT) {
            None => Ok(GGUF_DEFAULT_ALIGNMENT),
            Some(MetaValue::U32(a)) if a.is_power_of_two() => Ok(*a as u64),
            Some(other) => Err(format!("'{KEY_ALIGNMENT}' must be a u32 power of two, is {other:?}")),
        }
    }

    /// Writes the file to `path` through a temp file in the same directory and a rename. A path
    /// that exists and is not a regular file (`/dev/null`, a pipe) is written into directly: a
    /// rename would replace the device itself (as root, `--out /dev/zero` once turned
    /// /dev/zero into a GGUF file).
    pub fn write(self, path: impl AsRef<Path>) -> Result<(), GgufError> {
        let path = path.as_ref();
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            let io = |source| GgufError::Io { file: path.to_path_buf(), source };
            if meta.is_dir() {
                return Err(io(std::io::Error::other("is a directory; give a file name")));
            }
            let mut out =
                BufWriter::with_capacity(1 << 20, std::fs::OpenOptions::new().write(true).open(path).map_err(io)?);
            self.write_to(&mut out, path)?;
            return out.flush().map_err(io);
        }
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp: PathBuf = path.with_file_name(format!(".{file_name}.tmp{}", std::process::id()));
        let result = self.write_to_file(path, &tmp);
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write_to_file(self, path: &Path, tmp: &Path) -> Result<(), GgufError> {
        let io = |source| GgufError::Io { file: path.to_path_buf(), source };
        let file = File::create(tmp).map_err(io)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        self.write_to(&mut out, path)?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(tmp, path).map_err(io)?;
        Ok(())
    }

    /// Streams the whole file into `out`; `path` only names the file in errors.
    pub fn write_to(self, out: &mut impl Write, path: &Path) -> Result<(), GgufError> {
        let io = |source| GgufError::Io { file: path.to_path_buf(), source };
        let bad = |tensor: &str, reason: String| GgufError::BadTensor {
            file: path.to_path_buf(),
            tensor: tensor.to_string(),
            reason,
        };
        let alignment =
            self.alignment().map_err(|reason| GgufError::BadMetadata { key: KEY_ALIGNMENT.into(), reason })?;
        // llama.cpp's reader refuses arrays of arrays, so we never write them.
        for (key, value) in self.metadata.iter() {
            if let MetaValue::Array(MetaArray::Array(_)) = value {
                let reason = "arrays of arrays are not readable by llama.cpp".to_string();
                return Err(GgufError::BadMetadata { key: key.to_string(), reason });
            }
        }

        let mut header = Vec::new();
        header.extend_from_slice(&GGUF_MAGIC);
        header.extend_from_slice(&GGUF_VERSION.to_le_bytes());
        header.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        header.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in self.metadata.iter() {
            put_string(&mut header, key);
            header.extend_from_slice(&value.meta_type().id().to_le_bytes());
            put_value(&mut header, value);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            put_string(&mut header, &t.name);
            header.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                header.extend_from_slice(&d.to_le_bytes());
            }
            header.extend_from_slice(&t.dtype.id().to_le_bytes());
            header.extend_from_slice(&offset.to_le_bytes());
            offset = align_up(offset + t.n_bytes, alignment);
        }
        let padded = align_up(header.len() as u64, alignment) as usize;
        header.resize(padded, 0);
        out.write_all(&header).map_err(io)?;

        let zeros = vec![0u8; alignment as usize];
        for t in self.tensors {
            let bytes: Cow<'_, [u8]> = match t.bytes {
                TensorBytes::Ready(b) => b,
                TensorBytes::Later(make) => Cow::Owned(make().map_err(|source| GgufError::Producer {
                    file: path.to_path_buf(),
                    tensor: t.name.clone(),
                    source,
                })?),
            };
            if bytes.len() as u64 != t.n_bytes {
                let msg = format!("produced {} bytes, {} {:?} needs {}", bytes.len(), t.dtype, t.dims, t.n_bytes);
                return Err(bad(&t.name, msg));
            }
            out.write_all(&bytes).map_err(io)?;
            let pad = (align_up(t.n_bytes, alignment) - t.n_bytes) as usize;
            out.write_all(&zeros[..pad]).map_err(io)?;
        }
        out.flush().map_err(io)
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &MetaValue) {
    match v {
        MetaValue::U8(x) => out.push(*x),
        MetaValue::I8(x) => out.push(*x as u8),
        MetaValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::Bool(x) => out.push(*x as u8),
        MetaValue::String(s) => put_string(out, s),
        MetaValue::Array(a) => put_array(out, a),
        MetaValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetaValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

fn put_array(out: &mut Vec<u8>, a: &MetaArray) {
    out.extend_from_slice(&a.elem_type().id().to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    macro_rules! le {
        ($v:expr) => {
            for x in $v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
    }
    match a {
        MetaArray::U8(v) => out.extend_from_slice(v),
        MetaArray::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        MetaArray::Bool(v) => out.extend(v.iter().map(|&x| x as u8)),
        MetaArray::U16(v) => le!(v),
        MetaArray::I16(v) => le!(v),
        MetaArray::U32(v) => le!(v),
        MetaArray::I32(v) => le!(v),
        MetaArray::F32(v) => le!(v),
        MetaArray::U64(v) => le!(v),
        MetaArray::I64(v) => le!(v),
        MetaArray::F64(v) => le!(v),
        MetaArray::String(v) => v.iter().for_each(|s| put_string(out, s)),
        MetaArray::Array(v) => v.iter().for_each(|inner| put_array(out, inner)),
    }
}
