//! Building the prompt a chat model sees: its own chat template, rendered exactly, and whether
//! that rendering left a `<think>` block open for the model to continue.

use crate::error::{EngineError, Result};
use reasoner_model::LoadedModel;
use reasoner_model::chat_template::ChatMessage;

pub struct ChatPrompt {
    pub text: String,
    pub ids: Vec<u32>,
    /// The template ended the prompt inside `<think>` (R1's does).
    pub think_open: bool,
}

pub fn chat_prompt(
    model: &LoadedModel,
    messages: &[ChatMessage],
    extra: &serde_json::Map<String, serde_json::Value>,
) -> Result<ChatPrompt> {
    let tok = model.tokenizer.as_ref().ok_or_else(|| EngineError::NoTokenizer { path: model.path.clone() })?;
    let text = match &model.chat_template {
        Some(t) => t.render(messages, true, extra)?,
        None => return Err(EngineError::NoChatTemplate { path: model.path.clone() }),
    };
    // The rendered text already holds BOS where the template wants it.
    let ids = tok.encode(&text, false)?;
    let think_open = ends_inside_think(&text);
    Ok(ChatPrompt { text, ids, think_open })
}

/// True when the last `<think>` in `text` has no `</think>` after it.
pub fn ends_inside_think(text: &str) -> bool {
    match (text.rfind("<think>"), text.rfind("</think>")) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        _ => false,
    }
}
