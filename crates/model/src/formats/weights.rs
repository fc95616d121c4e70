//! Where weights come from. A `WeightSource` hands out tensors by their checkpoint name and
//! checks their shape, so an architecture file only says which tensor it wants and how big;
//! `VarPath` is a view under a name prefix. The sources are `safetensors::SafetensorsDir`,
//! `gguf::source::GgufSource` and `named_tensors::NamedTensors`.

use crate::error::{ModelError, Result};
use crate::quant::PackedMatrix;
use candle_core::Tensor;
use std::collections::BTreeMap;

pub trait WeightSource: Send + Sync {
    /// Human-readable origin for error messages (a directory or file path).
    fn origin(&self) -> String;
    fn contains(&self, name: &str) -> bool;
    fn shape_of(&self, name: &str) -> Option<Vec<usize>>;
    /// The tensor converted to f32 on the CPU.
    fn load_f32(&self, name: &str) -> Result<Tensor>;
    /// Names of all tensors, for "unused tensor" checks and `info`.
    fn names(&self) -> Vec<String>;

    /// A tensor that must exist with exactly this shape.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let found = self
            .shape_of(name)
            .ok_or_else(|| ModelError::MissingTensor { tensor: name.to_string(), source_name: self.origin() })?;
        if found != shape {
            return Err(ModelError::ShapeMismatch {
                tensor: name.to_string(),
                found,
                expected: shape.to_vec(),
                source_name: self.origin(),
            });
        }
        self.load_f32(name)
    }

    fn get_optional(&self, name: &str, shape: &[usize]) -> Result<Option<Tensor>> {
        if self.contains(name) { self.get(name, shape).map(Some) } else { Ok(None) }
    }

    /// A linear weight kept in its stored low-precision format, where the source has one
    /// (GGUF); `None` means "load it as f32".
    fn packed(&self, _name: &str) -> Option<Result<PackedMatrix>> {
        None
    }

    /// Whether the packed weight `name` should stay where the source keeps it (a file's memory
    /// map, paged in by the OS as tokens use it) instead of being moved into the kernels'
    /// preferred layout at load: a mixture of experts larger than memory still runs.
    fn keep_mapped(&self, _name: &str) -> bool {
        false
    }
}

/// What a source holds, for reports (`info`, `LoadedModel::storage_dtypes`): storage dtype names
/// with their tensor counts, and total bytes. Apart from `WeightSource` because loading a model
/// never needs it.
pub trait StorageSummary {
    fn storage_summary(&self) -> (BTreeMap<String, usize>, u64);
    /// The stored type of one tensor (`BF16`, `q4_k`, …), where the source knows it.
    fn stored_dtype(&self, _name: &str) -> Option<String> {
        None
    }
}

/// A view of a source under a name prefix, as candle's `VarBuilder`: `vb.pp("self_attn")`.
#[derive(Clone)]
pub struct VarPath<'a> {
    pub src: &'a dyn WeightSource,
    pub prefix: String,
}

impl<'a> VarPath<'a> {
    pub fn root(src: &'a dyn WeightSource) -> Self {
        Self { src, prefix: String::new() }
    }
    pub fn pp(&self, part: impl std::fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() { part.to_string() } else { format!("{}.{part}", self.prefix) };
        Self { src: self.src, prefix }
    }
    pub fn name(&self, leaf: &str) -> String {
        if self.prefix.is_empty() { leaf.to_string() } else { format!("{}.{leaf}", self.prefix) }
    }
    pub fn get(&self, leaf: &str, shape: &[usize]) -> Result<Tensor> {
        self.src.get(&self.name(leaf), shape)
    }
    pub fn get_optional(&self, leaf: &str, shape: &[usize]) -> Result<Option<Tensor>> {
        self.src.get_optional(&self.name(leaf), shape)
    }
    pub fn contains(&self, leaf: &str) -> bool {
        self.src.contains(&self.name(leaf))
    }
}
