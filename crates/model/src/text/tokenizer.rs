//! The text side of a model directory: tokenizer.json through the `tokenizers` crate, and the
//! special tokens named in tokenizer_config.json (which may be plain strings or AddedToken dicts).
//! A GGUF file's tokenizer runs the same pipeline around our compact BPE model.

use crate::error::{ModelError, Result};
use crate::text::compact_bpe::CompactBpe;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The tokenizers pipeline (normalizer, pre-tokenizer, added tokens, post-processor, decoder)
/// around the compact BPE model that GGUF tokenizers are rebuilt into
/// (`formats::gguf::tokenizer`).
pub type GgufTokenizer = tokenizers::TokenizerImpl<
    CompactBpe,
    tokenizers::NormalizerWrapper,
    tokenizers::PreTokenizerWrapper,
    tokenizers::PostProcessorWrapper,
    tokenizers::DecoderWrapper,
>;

pub struct TextTokenizer {
    inner: Backend,
    pub path: PathBuf,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

enum Backend {
    /// tokenizer.json as the tokenizers crate reads it.
    Json(Box<tokenizers::Tokenizer>),
    /// Rebuilt from `tokenizer.ggml.*` with the compact BPE model.
    Gguf(Box<GgufTokenizer>),
}

/// Calls the same method on whichever pipeline the tokenizer holds.
macro_rules! on_backend {
    ($self:expr, $t:ident => $call:expr) => {
        match &$self.inner {
            Backend::Json($t) => $call,
            Backend::Gguf($t) => $call,
        }
    };
}

/// tokenizer_config.json, read leniently: every field is optional.
#[derive(Debug, Clone, Default)]
pub struct TokenizerConfig {
    pub path: Option<PathBuf>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub chat_template: Option<String>,
}

/// A special token is either "text" or {"content": "text", ...} (DeepSeek writes the latter).
fn token_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("content").and_then(|c| c.as_str()).map(str::to_string),
        _ => None,
    }
}

impl TokenizerConfig {
    pub fn read_optional(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let json: Value = serde_json::from_str(&text)
            .map_err(|e| ModelError::Json { path: path.to_path_buf(), message: e.to_string() })?;
        // `chat_template` is a string, or a list of {"name", "template"} of which "default" is used.
        let chat_template = match json.get("chat_template") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(list)) => list
                .iter()
                .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                .or_else(|| list.first())
                .and_then(|t| t.get("template"))
                .and_then(|t| t.as_str())
                .map(str::to_string),
            Some(Value::Null) | None => None,
            Some(_) => {
                return Err(ModelError::key(path, "chat_template", "must be a string or a list of named templates"));
            }
        };
        Ok(Self {
            path: Some(path.to_path_buf()),
            bos_token: token_text(json.get("bos_token")),
            eos_token: token_text(json.get("eos_token")),
            chat_template,
        })
    }
}

impl TextTokenizer {
    pub fn load(path: &Path, cfg: &TokenizerConfig) -> Result<Self> {
        if !path.exists() {
            return Err(ModelError::MissingPath { path: path.to_path_buf() });
        }
        let bad = |message: String| ModelError::Tokenizer { path: path.to_path_buf(), message };
        let inner = guarded(path, || tokenizers::Tokenizer::from_file(path))?.map_err(|e| bad(e.to_string()))?;
        let t = Self {
            inner: Backend::Json(Box::new(inner)),
            path: path.to_path_buf(),
            bos_token: cfg.bos_token.clone(),
            eos_token: cfg.eos_token.clone(),
        };
        // A tokenizer.json can parse and still hold parts that fail on first use (a template
        // post-processor naming a missing token, a broken normalizer): try each part once here,
        // so a bad file is refused at load instead of on the first request.
        let probe = "Hello, world! 347 + 589 = 936.";
        let ids = t.encode(probe, true).map_err(|e| bad(format!("cannot encode a test sentence: {e}")))?;
        t.decode(&ids, false).map_err(|e| bad(format!("cannot decode a test sentence: {e}")))?;
        Ok(t)
    }

    /// A tokenizer rebuilt from a GGUF file's metadata; `path` names the file.
    pub fn from_gguf(inner: GgufTokenizer, path: &Path, bos_token: Option<String>, eos_token: Option<String>) -> Self {
        Self { inner: Backend::Gguf(Box::new(inner)), path: path.to_path_buf(), bos_token, eos_token }
    }

    /// `add_special_tokens` as in transformers: true for raw text (adds BOS where the
    /// tokenizer's post-processor says so), false for an already-rendered chat prompt.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = guarded(&self.path, || on_backend!(self, t => t.encode(text, add_special_tokens)))?
            .map_err(|e| ModelError::Tokenizer { path: self.path.clone(), message: e.to_string() })?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        guarded(&self.path, || on_backend!(self, t => t.decode(ids, skip_special_tokens)))?
            .map_err(|e| ModelError::Tokenizer { path: self.path.clone(), message: e.to_string() })
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        on_backend!(self, t => t.token_to_id(token))
    }

    pub fn vocab_size(&self) -> usize {
        on_backend!(self, t => t.get_vocab_size(true))
    }
}

/// Runs `f`, turning a panic inside the `tokenizers` library (it panics on some malformed
/// files) into an error naming the file. The last line of defence, not the validation.
fn guarded<R>(path: &Path, f: impl FnOnce() -> R) -> Result<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ModelError::Tokenizer {
            path: path.to_path_buf(),
            message: format!("the tokenizers library failed on it: {what}"),
        }
    })
}
