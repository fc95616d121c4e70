//! Opening a model path: a Hugging Face directory (config.json, safetensors, tokenizer, chat
//! template, generation defaults). Everything a command needs comes back in one `LoadedModel`.

use crate::causal_lm::CausalLm;
use crate::config::{GenerationDefaults, RawConfig};
use crate::error::{ModelError, Result};
use crate::formats::gguf::GgufFile;
use crate::formats::gguf::config::config_from_metadata;
use crate::formats::gguf::source::GgufSource;
use crate::formats::gguf::tokenizer::tokenizer_from_metadata;
use crate::formats::loading::{Checkpoint, LoadOptions, LoadingSource, TensorPath};
use crate::formats::safetensors::SafetensorsDir;
use crate::formats::weights::{StorageSummary, WeightSource};
use crate::layers::kv_cache::{KvDtype, SequenceCache};
use crate::models::load_architecture;
use crate::text::chat_template::ChatTemplate;
use crate::text::tokenizer::{TextTokenizer, TokenizerConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct LoadedModel {
    pub path: PathBuf,
    pub model: Box<dyn CausalLm>,
    pub tokenizer: Option<TextTokenizer>,
    pub chat_template: Option<ChatTemplate>,
    pub generation: GenerationDefaults,
    /// Storage dtypes (name -> tensor count) and bytes of the weights on disk.
    pub storage_dtypes: BTreeMap<String, usize>,
    pub weight_bytes: u64,
    /// How caches from `new_cache` store keys and values: f32 (the default) or f16.
    pub kv_dtype: KvDtype,
    /// Each tensor's stored type and the type it is computed in (quantized at load, kept as
    /// stored, or widened to f32), by tensor name.
    pub tensor_paths: Vec<TensorPath>,
}

impl LoadedModel {
    /// A cache for one sequence, in `kv_dtype` where the architecture supports it.
    pub fn new_cache(&self) -> SequenceCache {
        self.model.new_cache_with(self.kv_dtype)
    }

    /// Token ids that end generation: generation_config's eos ids plus the tokenizer's eos token.
    pub fn eos_ids(&self) -> Vec<u32> {
        let mut ids = self.generation.eos_token_id.clone();
        if let Some(tok) = &self.tokenizer
            && let Some(id) = tok.eos_token.as_deref().and_then(|t| tok.token_id(t))
            && !ids.contains(&id)
        {
            ids.push(id);
        }
        ids
    }
}

pub fn load_model(path: &Path) -> Result<LoadedModel> {
    load_model_with(path, &LoadOptions::default())
}

/// `load_model` with options: `--quantize` at load.
pub fn load_model_with(path: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    if !path.exists() {
        return Err(ModelError::MissingPath { path: path.to_path_buf() });
    }
    if path.is_file() {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
            return load_gguf(path, opts);
        }
        return Err(ModelError::io(
            path,
            "expected a Hugging Face model directory (config.json + *.safetensors) or a .gguf file",
        ));
    }
    let weights = SafetensorsDir::open(path)?;
    load_with_options(path, &path.join("config.json"), &weights, opts)
}

/// A model whose config, tokenizer and template come from the directory `dir` (config from
/// `config_path`) and whose weights come from `weights`: the trainer builds its models this way
/// from tensors it holds in memory (trainable variables, or a fresh random init).
pub fn load_model_with_weights<W: WeightSource + StorageSummary>(
    dir: &Path,
    config_path: &Path,
    weights: &W,
) -> Result<LoadedModel> {
    load_with_options(dir, config_path, weights, &LoadOptions::default())
}

fn load_with_options(
    dir: &Path,
    config_path: &Path,
    weights: &dyn Checkpoint,
    opts: &LoadOptions,
) -> Result<LoadedModel> {
    let path = dir;
    let raw = RawConfig::read(config_path)?;
    let src = LoadingSource::new(weights, *opts);
    let model = load_architecture(&raw, &src)?;
    let tensor_paths = src.paths();
    let (storage_dtypes, weight_bytes) = weights.storage_summary();
    let tok_cfg = TokenizerConfig::read_optional(&path.join("tokenizer_config.json"))?;
    let tok_path = path.join("tokenizer.json");
    let tokenizer = if tok_path.exists() { Some(TextTokenizer::load(&tok_path, &tok_cfg)?) } else { None };
    let chat_template = load_chat_template(path, &tok_cfg)?;
    let generation = GenerationDefaults::read_optional(&path.join("generation_config.json"))?;
    Ok(LoadedModel {
        path: path.to_path_buf(),
        model,
        tokenizer,
        chat_template,
        generation,
        storage_dtypes,
        weight_bytes,
        kv_dtype: KvDtype::F32,
        tensor_paths,
    })
}

/// `chat_template.jinja` wins over tokenizer_config.json's `chat_template`, as in transformers.
fn load_chat_template(dir: &Path, cfg: &TokenizerConfig) -> Result<Option<ChatTemplate>> {
    let jinja = dir.join("chat_template.jinja");
    let (source, origin) = if jinja.exists() {
        (std::fs::read_to_string(&jinja).map_err(|e| ModelError::io(&jinja, e))?, jinja.display().to_string())
    } else if let Some(t) = &cfg.chat_template {
        (t.clone(), dir.join("tokenizer_config.json").display().to_string())
    } else {
        return Ok(None);
    };
    ChatTemplate::new(&source, &origin, cfg.bos_token.as_deref(), cfg.eos_token.as_deref()).map(Some)
}

/// A llama.cpp GGUF file: config, tokenizer and chat template from its metadata; linear weights
/// stay in their stored format and are read from the memory map.
pub fn load_gguf(path: &Path, opts: &LoadOptions) -> Result<LoadedModel> {
    let mut file = GgufFile::open(path).map_err(|e| ModelError::Invalid(e.to_string()))?;
    let tokenizer = tokenizer_from_metadata(file.metadata(), path)?;
    let tokens = file.metadata().get("tokenizer.ggml.tokens").and_then(|v| v.as_array()).map_or(0, |a| a.len());
    // The tokenizer now holds the vocabulary; the parsed copy (~10 MB for 150k tokens) can go.
    for key in ["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"]
    {
        file.remove_metadata(key);
    }
    let file = Arc::new(file);
    let src = GgufSource::new(file.clone())?;
    let meta = file.metadata();
    let vocab = src.shape_of("model.embed_tokens.weight").map_or(tokens, |s| s[0]);
    let mut json = config_from_metadata(meta, path, vocab, &|name| file.tensor(name).is_some())?;
    if let Some(info) = file.tensor("rope_freqs.weight") {
        // Llama 3 scaling as llama.cpp stores it: one divisor per rotary frequency.
        let mut factors = vec![0f32; info.n_elements() as usize];
        crate::quant::dequantize_row(info.dtype, file.data_of(info), &mut factors).map_err(|e| ModelError::Tensor {
            file: path.display().to_string(),
            tensor: info.name.clone(),
            message: e.to_string(),
        })?;
        json["rope_scaling"] = serde_json::json!({"rope_type": "freq_factors", "factors": factors});
    }
    let raw = RawConfig { path: path.to_path_buf(), json };
    let loading = LoadingSource::new(&src, *opts);
    let model = load_architecture(&raw, &loading)?;
    let tensor_paths = loading.paths();
    let (storage_dtypes, weight_bytes) = src.storage_summary();
    let token_text = |key: &str| {
        let id = meta.get(key).and_then(|v| v.as_u64())?;
        tokenizer.id_to_token(id as u32)
    };
    let (bos, eos) = (token_text("tokenizer.ggml.bos_token_id"), token_text("tokenizer.ggml.eos_token_id"));
    let chat_template = match meta.get("tokenizer.chat_template").and_then(|v| v.as_str()) {
        Some(t) => Some(ChatTemplate::new(
            t,
            &format!("{} (tokenizer.chat_template)", path.display()),
            bos.as_deref(),
            eos.as_deref(),
        )?),
        None => None,
    };
    let generation = GenerationDefaults {
        eos_token_id: meta
            .get("tokenizer.ggml.eos_token_id")
            .and_then(|v| v.as_u64())
            .map(|i| vec![i as u32])
            .unwrap_or_default(),
        bos_token_id: meta.get("tokenizer.ggml.bos_token_id").and_then(|v| v.as_u64()).map(|i| i as u32),
        ..Default::default()
    };
    let tokenizer = Some(TextTokenizer::from_gguf(tokenizer, path, bos, eos));
    Ok(LoadedModel {
        path: path.to_path_buf(),
        model,
        tokenizer,
        chat_template,
        generation,
        storage_dtypes,
        weight_bytes,
        kv_dtype: KvDtype::F32,
        tensor_paths,
    })
}
