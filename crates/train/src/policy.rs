//! The model being trained. Its weights are candle `Var`s held by name; two models are built
//! over them: `train`, whose forward autograd differentiates (the plain layer forms, since its
//! weights are tracked), and `infer`, a detached view of the same storage that takes the fused
//! inference kernels for rollouts. An optimizer step writes the `Var`s in place, so both see
//! it at once and nothing (such as a cached copy of a weight) can go stale.

use crate::checkpoint::{fsync_dir, write_synced};
use crate::error::{Result, TrainError};
use candle_core::{Tensor, Var};
use reasoner_model::named_tensors::{NamedTensors, RandomInit};
use reasoner_model::weights::SafetensorsDir;
use reasoner_model::{LoadedModel, load_model_with_weights};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The architectures whose every layer autograd can differentiate today.
pub const TRAINABLE_ARCHITECTURES: &[&str] =
    &["Qwen2ForCausalLM", "LlamaForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM"];

/// Files copied from the source directory into every checkpoint, so each one loads alone.
const SIDE_FILES: &[&str] =
    &["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"];

pub struct Policy {
    /// Where the tokenizer, chat template and generation defaults come from.
    pub dir: PathBuf,
    pub config_path: PathBuf,
    /// Trainable weights, by checkpoint name (sorted).
    pub params: Vec<(String, Var)>,
    pub train: LoadedModel,
    pub infer: LoadedModel,
}

impl Policy {
    /// Start from a Hugging Face directory (f32, f16 or bf16 safetensors; computed in f32).
    pub fn from_checkpoint(dir: &Path) -> Result<Self> {
        if dir.is_file() {
            let gguf = dir.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
            let why = if gguf {
                "a GGUF file holds weights rounded for inference and cannot be trained; start from the Hugging Face directory it was made from"
            } else {
                "expected a Hugging Face model directory (config.json + *.safetensors)"
            };
            return Err(TrainError::Checkpoint { path: dir.to_path_buf(), message: why.into() });
        }
        let config_path = dir.join("config.json");
        check_architecture(&config_path)?;
        let src = SafetensorsDir::open(dir)?;
        let tensors = NamedTensors::read_all(&src)?.tensors;
        Self::build(dir, &config_path, tensors)
    }

    /// Random weights for the architecture `config_path` describes, with the tokenizer files
    /// of `tokenizer_dir`.
    pub fn from_init(config_path: &Path, tokenizer_dir: &Path, seed: u64, std: f64) -> Result<Self> {
        check_architecture(config_path)?;
        let init = RandomInit::new(seed, std);
        // Building the model once asks the source for every tensor it needs, by name and shape.
        load_model_with_weights(tokenizer_dir, config_path, &init)?;
        Self::build(tokenizer_dir, config_path, init.into_tensors())
    }

    fn build(dir: &Path, config_path: &Path, tensors: BTreeMap<String, Tensor>) -> Result<Self> {
        let mut params = Vec::with_capacity(tensors.len());
        let (mut tracked, mut detached) = (BTreeMap::new(), BTreeMap::new());
        for (name, t) in tensors {
            let var = Var::from_tensor(&t.contiguous()?)?;
            tracked.insert(name.clone(), var.as_tensor().clone());
            detached.insert(name.clone(), var.as_tensor().detach());
            params.push((name, var));
        }
        let origin = dir.display().to_string();
        let train = load_model_with_weights(dir, config_path, &NamedTensors::new(&origin, tracked))?;
        let infer = load_model_with_weights(dir, config_path, &NamedTensors::new(&origin, detached))?;
        Ok(Self { dir: dir.to_path_buf(), config_path: config_path.to_path_buf(), params, train, infer })
    }

    /// Total trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.params.iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// A frozen copy (own storage) for the KL reference, on the fused inference path.
    pub fn frozen_copy(&self) -> Result<LoadedModel> {
        let mut copies = BTreeMap::new();
        for (name, v) in &self.params {
            copies.insert(name.clone(), v.as_tensor().detach().copy()?);
        }
        Ok(load_model_with_weights(&self.dir, &self.config_path, &NamedTensors::new("frozen reference", copies))?)
    }

    /// Overwrite the weights with a checkpoint's (same names and shapes), as `--resume` does.
    pub fn load_weights(&self, file: &Path) -> Result<()> {
        let tensors = read_f32_safetensors(file)?;
        if tensors.len() != self.params.len() {
            return Err(TrainError::Checkpoint {
                path: file.to_path_buf(),
                message: format!(
                    "holds {} tensors, the model has {}: another architecture or shape",
                    tensors.len(),
                    self.params.len()
                ),
            });
        }
        for (name, var) in &self.params {
            let t = tensors.get(name).ok_or_else(|| TrainError::Checkpoint {
                path: file.to_path_buf(),
                message: format!("tensor `{name}` is missing: another architecture or shape"),
            })?;
            if t.dims() != var.dims() {
                return Err(TrainError::Checkpoint {
                    path: file.to_path_buf(),
                    message: format!("tensor `{name}` has shape {:?}, the model {:?}", t.dims(), var.dims()),
                });
            }
            var.set(t)?;
        }
        Ok(())
    }

    /// Write a complete Hugging Face directory into `dir` (which must exist): config.json,
    /// model.safetensors (f32) and the tokenizer files, each fsynced.
    pub fn save_hf(&self, dir: &Path) -> Result<()> {
        let config = std::fs::read(&self.config_path).map_err(|e| TrainError::io(&self.config_path, e))?;
        write_synced(&dir.join("config.json"), &config)?;
        let named: Vec<(String, Tensor)> =
            self.params.iter().map(|(n, v)| (n.clone(), v.as_tensor().detach())).collect();
        write_synced(&dir.join("model.safetensors"), &f32_safetensors_bytes(&named)?)?;
        for f in SIDE_FILES {
            let src = self.dir.join(f);
            if src.exists() {
                let bytes = std::fs::read(&src).map_err(|e| TrainError::io(&src, e))?;
                write_synced(&dir.join(f), &bytes)?;
            }
        }
        fsync_dir(dir)
    }
}

fn check_architecture(config_path: &Path) -> Result<()> {
    let raw = reasoner_model::config::RawConfig::read(config_path)?;
    let arch = raw.architecture()?;
    if !TRAINABLE_ARCHITECTURES.contains(&arch.as_str()) {
        return Err(TrainError::Checkpoint {
            path: config_path.to_path_buf(),
            message: format!(
                "`{arch}` cannot be trained yet (trainable: {}); DeepSeek-V3's MoE router and MLA absorption have no gradient path",
                TRAINABLE_ARCHITECTURES.join(", ")
            ),
        });
    }
    Ok(())
}

/// Serialize named f32 tensors as one safetensors file.
pub fn f32_safetensors_bytes(named: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let mut views = Vec::with_capacity(named.len());
    for (name, t) in named {
        let values: Vec<f32> = t.flatten_all()?.to_vec1()?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        views.push((name.clone(), F32View { shape: t.dims().to_vec(), bytes }));
    }
    safetensors::tensor::serialize(views, None)
        .map_err(|e| TrainError::Invalid(format!("safetensors serialization: {e}")))
}

/// Every tensor of a safetensors file, as f32.
pub fn read_f32_safetensors(file: &Path) -> Result<BTreeMap<String, Tensor>> {
    let bytes = std::fs::read(file).map_err(|e| TrainError::io(file, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| TrainError::Checkpoint {
        path: file.to_path_buf(),
        message: format!("corrupt or truncated safetensors file: {e}"),
    })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != safetensors::Dtype::F32 {
            return Err(TrainError::Checkpoint {
                path: file.to_path_buf(),
                message: format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
            });
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.insert(name, Tensor::from_vec(values, view.shape(), &candle_core::Device::Cpu)?);
    }
    Ok(out)
}

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for F32View {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}
