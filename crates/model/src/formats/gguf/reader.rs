//! GGUF reader: parses the header, metadata and tensor infos out of a byte slice with every
//! length checked against the bytes that remain before anything is allocated, then serves
//! tensor data as slices borrowed from the memory map.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::metadata::{MetaArray, MetaType, MetaValue, Metadata};
use super::{FormatError, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GgufError, KEY_ALIGNMENT, MAX_DIMS};
use crate::quant::{GgmlType, QMatrix};

/// Arrays of arrays deeper than this are refused (keeps recursion, and the stack, bounded).
const MAX_ARRAY_DEPTH: usize = 8;

/// One tensor's entry in the tensor-info table.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml order: `dims[0]` is the row length (innermost, contiguous), as in the file.
    pub dims: Vec<u64>,
    pub dtype: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Bytes of data, from the shape and type.
    pub n_bytes: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// Row-major shape, outermost first (PyTorch / safetensors order): ggml's dims reversed.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Values per row (`ne[0]`).
    pub fn row_len(&self) -> usize {
        self.dims.first().copied().unwrap_or(1) as usize
    }

    /// Rows, every outer dimension folded together.
    pub fn n_rows(&self) -> usize {
        self.dims.iter().skip(1).product::<u64>() as usize
    }
}

/// Everything in a file except the tensor bytes: what `parse_layout` finds.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufLayout {
    pub version: u32,
    pub metadata: Metadata,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute offset of the data section (tensor offsets are relative to it).
    pub data_offset: u64,
}

/// Little-endian reads from a byte slice; every read checks what is left first.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() {
            return Err(FormatError::Truncated {
                what: what(),
                at: self.pos as u64,
                need: n,
                len: self.buf.len() as u64,
            });
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.buf[start..self.pos])
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], FormatError> {
        let bytes = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, FormatError> {
        self.array::<4>(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, FormatError> {
        self.array::<8>(what).map(u64::from_le_bytes)
    }

    /// A GGUF string: u64 length, then that many UTF-8 bytes.
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, FormatError> {
        let len = self.u64(what)?;
        if len > self.remaining() {
            return Err(FormatError::LengthTooLarge { what: what(), len, remaining: self.remaining() });
        }
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FormatError::InvalidUtf8 { what: what() })
    }

    /// Checks that `count` items of at least `min_size` bytes each can still fit.
    fn check_count(&self, count: u64, min_size: u64, what: &dyn Fn() -> String) -> Result<usize, FormatError> {
        match count.checked_mul(min_size) {
            Some(total) if total <= self.remaining() => Ok(count as usize),
            _ => Err(FormatError::LengthTooLarge { what: what(), len: count, remaining: self.remaining() }),
        }
    }

    fn value(&mut self, ty: MetaType, key: &str, depth: usize) -> Result<MetaValue, FormatError> {
        let what = || format!("key '{key}' value");
        Ok(match ty {
            MetaType::U8 => MetaValue::U8(self.array::<1>(&what)?[0]),
            MetaType::I8 => MetaValue::I8(self.array::<1>(&what)?[0] as i8),
            MetaType::U16 => MetaValue::U16(u16::from_le_bytes(self.array(&what)?)),
            MetaType::I16 => MetaValue::I16(i16::from_le_bytes(self.array(&what)?)),
            MetaType::U32 => MetaValue::U32(u32::from_le_bytes(self.array(&what)?)),
            MetaType::I32 => MetaValue::I32(i32::from_le_bytes(self.array(&what)?)),
            MetaType::F32 => MetaValue::F32(f32::from_le_bytes(self.array(&what)?)),
            MetaType::Bool => MetaValue::Bool(self.array::<1>(&what)?[0] != 0),
            MetaType::U64 => MetaValue::U64(u64::from_le_bytes(self.array(&what)?)),
            MetaType::I64 => MetaValue::I64(i64::from_le_bytes(self.array(&what)?)),
            MetaType::F64 => MetaValue::F64(f64::from_le_bytes(self.array(&what)?)),
            MetaType::String => MetaValue::String(self.string(&what)?),
            MetaType::Array => MetaValue::Array(self.meta_array(key, depth + 1)?),
        })
    }

    /// An array: element type id, u64 count, then the elements.
    fn meta_array(&mut self, key: &str, depth: usize) -> Result<MetaArray, FormatError> {
        if depth > MAX_ARRAY_DEPTH {
            return Err(FormatError::NestingTooDeep { key: key.to_string(), max: MAX_ARRAY_DEPTH });
        }
        let what = || format!("key '{key}' array");
        let type_id = self.u32(&what)?;
        let ty = MetaType::from_id(type_id)
            .ok_or_else(|| FormatError::UnknownValueType { key: key.to_string(), id: type_id })?;
        let count = self.u64(&what)?;
        // Strings need at least their 8-byte length, arrays their 4-byte type and 8-byte count.
        let min_size = ty.fixed_size().map_or(if ty == MetaType::String { 8 } else { 12 }, |s| s as u64);
        let n = self.check_count(count, min_size, &what)?;

        macro_rules! fixed {
            ($variant:ident, $t:ty) => {{
                const S: usize = std::mem::size_of::<$t>();
                let bytes = self.take((n * S) as u64, &what)?;
                MetaArray::$variant(
                    bytes.chunks_exact(S).map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; S]))).collect(),
                )
            }};
        }
        Ok(match ty {
            MetaType::U8 => MetaArray::U8(self.take(n as u64, &what)?.to_vec()),
            MetaType::I8 => MetaArray::I8(self.take(n as u64, &what)?.iter().map(|&b| b as i8).collect()),
            MetaType::Bool => MetaArray::Bool(self.take(n as u64, &what)?.iter().map(|&b| b != 0).collect()),
            MetaType::U16 => fixed!(U16, u16),
            MetaType::I16 => fixed!(I16, i16),
            MetaType::U32 => fixed!(U32, u32),
            MetaType::I32 => fixed!(I32, i32),
            MetaType::F32 => fixed!(F32, f32),
            MetaType::U64 => fixed!(U64, u64),
            MetaType::I64 => fixed!(I64, i64),
            MetaType::F64 => fixed!(F64, f64),
            MetaType::String => {
                let mut v = Vec::with_capacity(n);
                for i in 0..n {
                    v.push(self.string(&|| format!("key '{key}' array element {i}"))?);
                }
                MetaArray::String(v)
            }
            MetaType::Array => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.meta_array(key, depth + 1)?);
                }
                MetaArray::Array(v)
            }
        })
    }
}

/// Parses everything but the tensor bytes and checks that every tensor lies inside `bytes`.
pub fn parse_layout(bytes: &[u8]) -> Result<GgufLayout, FormatError> {
    let mut c = Cursor { buf: bytes, pos: 0 };
    let magic = c.array::<4>(&|| "magic".into())?;
    if magic != GGUF_MAGIC {
        return Err(FormatError::BadMagic { found: magic });
    }
    let version = c.u32(&|| "version".into())?;
    if version != 2 && version != 3 {
        let hint = if version.swap_bytes() == 3 { "; this looks like a big-endian file" } else { "" };
        return Err(FormatError::UnsupportedVersion { version, hint });
    }
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv = c.u64(&|| "metadata count".into())?;

    // Each pair takes at least an 8-byte key length, a 4-byte type and a 1-byte value.
    let n_kv = c.check_count(n_kv, 13, &|| "metadata count".into())?;
    let mut metadata = Metadata::new();
    for i in 0..n_kv {
        let key = c.string(&|| format!("metadata pair {i} key"))?;
        let type_id = c.u32(&|| format!("key '{key}' type"))?;
        let ty = MetaType::from_id(type_id)
            .ok_or_else(|| FormatError::UnknownValueType { key: key.clone(), id: type_id })?;
        let value = c.value(ty, &key, 0)?;
        metadata.insert_new(key, value).map_err(|key| FormatError::DuplicateKey { key })?;
    }

    let alignment = match metadata.get(KEY_ALIGNMENT) {
        None => GGUF_DEFAULT_ALIGNMENT,
        Some(MetaValue::U32(a)) if a.is_power_of_two() => *a as u64,
        Some(other) => return Err(FormatError::BadAlignment { found: format!("{other:?}") }),
    };

    // Each info takes at least an 8-byte name length, 4-byte n_dims, 4-byte type, 8-byte offset.
    let n_tensors = c.check_count(n_tensors, 24, &|| "tensor count".into())?;
    let mut tensors = Vec::with_capacity(n_tensors);
    let mut seen: HashMap<String, ()> = HashMap::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let name = c.string(&|| format!("tensor info {i} name"))?;
        let what = || format!("tensor '{name}' info");
        if seen.insert(name.clone(), ()).is_some() {
            return Err(FormatError::DuplicateTensor { tensor: name });
        }
        let n_dims = c.u32(&what)?;
        if n_dims as usize > MAX_DIMS {
            return Err(FormatError::TooManyDims { tensor: name, n_dims });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64(&what)?);
        }
        let type_id = c.u32(&what)?;
        let dtype = GgmlType::from_id(type_id)
            .ok_or_else(|| FormatError::UnknownGgmlType { tensor: name.clone(), id: type_id })?;
        let offset = c.u64(&what)?;
        let n_bytes = tensor_bytes(&name, &dims, dtype)?;
        tensors.push(TensorInfo { name, dims, dtype, offset, n_bytes });
    }

    let len = bytes.len() as u64;
    let data_offset = align_up(c.pos as u64, alignment);
    for t in &tensors {
        if t.offset % alignment != 0 {
            return Err(FormatError::MisalignedTensor { tensor: t.name.clone(), offset: t.offset, alignment });
        }
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(t.n_bytes));
        match (start, end) {
            (Some(_), Some(end)) if end <= len => {}
            _ => {
                return Err(FormatError::TensorOutOfBounds {
                    tensor: t.name.clone(),
                    start: data_offset.saturating_add(t.offset),
                    end: data_offset.saturating_add(t.offset).saturating_add(t.n_bytes),
                    len,
                });
            }
        }
    }
    let mut by_offset: Vec<&TensorInfo> = tensors.iter().filter(|t| t.n_bytes > 0).collect();
    by_offset.sort_by_key(|t| t.offset);
    for pair in by_offset.windows(2) {
        if pair[0].offset + pair[0].n_bytes > pair[1].offset {
            return Err(FormatError::OverlappingTensors { first: pair[0].name.clone(), second: pair[1].name.clone() });
        }
    }
    Ok(GgufLayout { version, metadata, tensors, alignment, data_offset })
}

/// Bytes of a tensor from its ggml dims, with the checks llama.cpp's reader makes.
fn tensor_bytes(name: &str, dims: &[u64], dtype: GgmlType) -> Result<u64, FormatError> {
    let too_large = || FormatError::ShapeTooLarge { tensor: name.to_string(), dims: dims.to_vec() };
    let mut n: u64 = 1;
    for &d in dims {
        n = n.checked_mul(d).filter(|&n| n <= i64::MAX as u64).ok_or_else(too_large)?;
    }
    let row_len = dims.first().copied().unwrap_or(1);
    let block = dtype.block_size();
    if row_len % block as u64 != 0 {
        return Err(FormatError::PartialBlock { tensor: name.to_string(), dtype, row_len, block });
    }
    (n / block as u64).checked_mul(dtype.type_size() as u64).ok_or_else(too_large)
}

pub(crate) fn align_up(x: u64, alignment: u64) -> u64 {
    x.div_ceil(alignment).saturating_mul(alignment)
}

/// Where the file's bytes live: a read-only memory map, or owned bytes (tests, small files).
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open GGUF file: its layout plus the bytes, from which tensor data is borrowed.
pub struct GgufFile {
    path: PathBuf,
    bytes: Bytes,
    layout: GgufLayout,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.layout.version)
            .field("metadata", &self.layout.metadata.len())
            .field("tensors", &self.layout.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Memory-maps and parses `path`. The file must not be modified while it is open: the
    /// tensor slices point straight into the page cache.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| GgufError::Io { file: path.clone(), source };
        let file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let bytes = if len == 0 {
            Bytes::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only; we document that the file must not change under us.
            Bytes::Mapped(unsafe { Mmap::map(&file) }.map_err(io)?)
        };
        Self::from_parts(path, bytes)
    }

    /// Parses a file already in memory; `name` is used in error messages.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, GgufError> {
        Self::from_parts(name.into(), Bytes::Owned(bytes))
    }

    fn from_parts(path: PathBuf, bytes: Bytes) -> Result<Self, GgufError> {
        let layout = parse_layout(bytes.as_slice()).map_err(|kind| GgufError::Invalid { file: path.clone(), kind })?;
        let by_name = layout.tensors.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
        Ok(Self { path, bytes, layout, by_name })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn version(&self) -> u32 {
        self.layout.version
    }

    pub fn metadata(&self) -> &Metadata {
        &self.layout.metadata
    }

    pub fn alignment(&self) -> u64 {
        self.layout.alignment
    }

    pub fn data_offset(&self) -> u64 {
        self.layout.data_offset
    }

    /// Removes a metadata entry from this open file's parsed copy (the file is untouched): the
    /// loader drops the tokenizer arrays once the tokenizer holds them.
    pub fn remove_metadata(&mut self, key: &str) -> Option<crate::formats::gguf::MetaValue> {
        self.layout.metadata.remove(key)
    }

    pub fn layout(&self) -> &GgufLayout {
        &self.layout
    }

    /// Tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.layout.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.layout.tensors[i])
    }

    /// The bytes of a tensor listed by this file (bounds were checked when it was opened).
    pub fn data_of(&self, info: &TensorInfo) -> &[u8] {
        let start = (self.layout.data_offset + info.offset) as usize;
        self.bytes.as_slice().get(start..start + info.n_bytes as usize).unwrap_or(&[])
    }

    /// Tells the kernel this process no longer needs the mapped pages that lie wholly inside
    /// `bytes` (a slice of this file's data), so they leave its resident set: used once a tensor
    /// has been copied into another layout. The map is read-only and shared, so a later read
    /// of those bytes just faults them in again from the page cache; nothing is lost.
    pub fn release_pages(&self, bytes: &[u8]) {
        if let Bytes::Mapped(map) = &self.bytes {
            crate::formats::mapped::release_pages(map, bytes);
        }
    }

    /// The bytes of the tensor called `name`, borrowed from the map.
    pub fn tensor_data(&self, name: &str) -> Result<&[u8], GgufError> {
        let info = self.tensor(name).ok_or_else(|| self.not_found(name))?;
        Ok(self.data_of(info))
    }

    /// A tensor as a matrix of `n_rows` rows of `row_len` values, borrowing its bytes, for the
    /// mat-vec kernels. Fails for types the kernels do not handle.
    pub fn qmatrix(&self, name: &str) -> Result<QMatrix<'_>, GgufError> {
        let info = self.tensor(name).ok_or_else(|| self.not_found(name))?;
        QMatrix::new(info.dtype, info.n_rows(), info.row_len(), Cow::Borrowed(self.data_of(info))).map_err(|e| {
            GgufError::BadTensor { file: self.path.clone(), tensor: name.to_string(), reason: e.to_string() }
        })
    }

    fn not_found(&self, name: &str) -> GgufError {
        GgufError::TensorNotFound { file: self.path.clone(), name: name.to_string() }
    }
}
