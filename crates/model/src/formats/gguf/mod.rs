//! GGUF v3: reading and writing llama.cpp model files. The reader memory-maps the file and
//! hands out tensor data as borrowed slices; the writer lays out metadata, tensor infos and
//! aligned data the way llama.cpp's `gguf.cpp` expects and replaces the target atomically.
//! `names`, `config` and `tokenizer` translate Hugging Face's tensor names, config.json and
//! tokenizer.json to GGUF's and back; `source` serves a GGUF file as a `WeightSource`.

pub mod config;
mod metadata;
pub mod names;
mod reader;
pub mod source;
pub mod tokenizer;
mod writer;

use std::path::PathBuf;

pub use metadata::{MetaArray, MetaType, MetaValue, Metadata};
pub use reader::{GgufFile, GgufLayout, TensorInfo, parse_layout};
pub use writer::{GgufWriter, TensorBytes};

/// "GGUF" as the first four bytes of the file.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// The version we write; we read 2 and 3 (same layout).
pub const GGUF_VERSION: u32 = 3;
/// Data alignment when `general.alignment` is absent.
pub const GGUF_DEFAULT_ALIGNMENT: u64 = 32;
/// The metadata key that overrides the alignment (must be a u32 power of two).
pub const KEY_ALIGNMENT: &str = "general.alignment";
/// ggml's `GGML_MAX_DIMS`.
pub const MAX_DIMS: usize = 4;

/// Why a GGUF file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{}: {kind}", file.display())]
    Invalid { file: PathBuf, kind: FormatError },
    #[error("GGUF metadata key '{key}' is missing")]
    MissingKey { key: String },
    #[error("GGUF metadata key '{key}' holds {found:?}, expected {expected}")]
    WrongType { key: String, expected: &'static str, found: MetaType },
    #[error("{}: no tensor named '{name}'", file.display())]
    TensorNotFound { file: PathBuf, name: String },
    #[error("{}: tensor '{tensor}': {reason}", file.display())]
    BadTensor { file: PathBuf, tensor: String, reason: String },
    #[error("metadata key '{key}': {reason}")]
    BadMetadata { key: String, reason: String },
    #[error("tensor '{tensor}': {reason}")]
    TensorSpec { tensor: String, reason: String },
    #[error("writing {}: tensor '{tensor}': {source}", file.display())]
    Producer { file: PathBuf, tensor: String, source: Box<dyn std::error::Error + Send + Sync> },
}

/// What is wrong inside a file's bytes; wrapped in `GgufError::Invalid` with the file name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    #[error("truncated: {what} needs {need} bytes at offset {at}, file has {len}")]
    Truncated { what: String, at: u64, need: u64, len: u64 },
    #[error("not a GGUF file: magic is {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },
    #[error("unsupported GGUF version {version} (we read 2 and 3{hint})")]
    UnsupportedVersion { version: u32, hint: &'static str },
    #[error("{what}: declared length {len} exceeds the {remaining} bytes left in the file")]
    LengthTooLarge { what: String, len: u64, remaining: u64 },
    #[error("{what}: string is not valid UTF-8")]
    InvalidUtf8 { what: String },
    #[error("key '{key}': unknown value type id {id}")]
    UnknownValueType { key: String, id: u32 },
    #[error("key '{key}': arrays nested deeper than {max}")]
    NestingTooDeep { key: String, max: usize },
    #[error("duplicate metadata key '{key}'")]
    DuplicateKey { key: String },
    #[error("'{KEY_ALIGNMENT}' must be a u32 power of two, found {found}")]
    BadAlignment { found: String },
    #[error("duplicate tensor name '{tensor}'")]
    DuplicateTensor { tensor: String },
    #[error("tensor '{tensor}': {n_dims} dimensions, at most {MAX_DIMS} allowed")]
    TooManyDims { tensor: String, n_dims: u32 },
    #[error("tensor '{tensor}': unknown ggml type id {id}")]
    UnknownGgmlType { tensor: String, id: u32 },
    #[error("tensor '{tensor}': shape {dims:?} is too large")]
    ShapeTooLarge { tensor: String, dims: Vec<u64> },
    #[error("tensor '{tensor}': row of {row_len} values is not a multiple of {dtype}'s block of {block}")]
    PartialBlock { tensor: String, dtype: crate::quant::GgmlType, row_len: u64, block: usize },
    #[error("tensor '{tensor}': offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedTensor { tensor: String, offset: u64, alignment: u64 },
    #[error("tensor '{tensor}': data [{start}, {end}) runs past the end of the file ({len} bytes)")]
    TensorOutOfBounds { tensor: String, start: u64, end: u64, len: u64 },
    #[error("tensors '{first}' and '{second}' overlap")]
    OverlappingTensors { first: String, second: String },
}
