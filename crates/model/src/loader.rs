//! Opening a model path: a Hugging Face directory (config.json, safetensors, tokenizer, chat
//! template, generation defaults). Everything a command needs comes back in one `LoadedModel`.

use crate::causal_lm::CausalLm;
use crate::chat_template::ChatTemplate;
use crate::config::{GenerationDefaults, RawConfig};
use crate::error::{ModelError, Result};
use crate::models::load_architecture;
use crate::tokenizer::{TextTokenizer, TokenizerConfig};
use crate::weights::{SafetensorsDir, WeightSource};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct LoadedModel {
    pub path: PathBuf,
    pub model: Box<dyn CausalLm>,
    pub tokenizer: Option<TextTokenizer>,
    pub chat_template: Option<ChatTemplate>,
    pub generation: GenerationDefaults,
    /// Storage dtypes (name -> tensor count) and bytes of the weights on disk.
    pub storage_dtypes: BTreeMap<String, usize>,
    pub weight_bytes: u64,
}

impl LoadedModel {
    /// Token ids that end generation: generation_config's eos ids plus the tokenizer's eos token.
    pub fn eos_ids(&self) -> Vec<u32> {
        let mut ids = self.generation.eos_token_id.clone();
        if let Some(tok) = &self.tokenizer {
            if let Some(id) = tok.eos_token.as_deref().and_then(|t| tok.token_id(t)) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }
}

pub fn load_model(path: &Path) -> Result<LoadedModel> {
    if !path.exists() {
        return Err(ModelError::MissingPath { path: path.to_path_buf() });
    }
    if path.is_file() {
        return Err(ModelError::io(path, "expected a Hugging Face model directory (config.json + *.safetensors)"));
    }
    let raw = RawConfig::read(&path.join("config.json"))?;
    let weights = SafetensorsDir::open(path)?;
    let model = load_architecture(&raw, &weights)?;
    let (storage_dtypes, weight_bytes) = weights.storage_summary();
    let tok_cfg = TokenizerConfig::read_optional(&path.join("tokenizer_config.json"))?;
    let tok_path = path.join("tokenizer.json");
    let tokenizer = if tok_path.exists() { Some(TextTokenizer::load(&tok_path, &tok_cfg)?) } else { None };
    let chat_template = load_chat_template(path, &tok_cfg)?;
    let generation = GenerationDefaults::read_optional(&path.join("generation_config.json"))?;
    Ok(LoadedModel { path: path.to_path_buf(), model, tokenizer, chat_template, generation, storage_dtypes, weight_bytes })
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
