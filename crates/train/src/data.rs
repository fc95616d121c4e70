//! Training examples as token ids with a loss mask. SFT rows are `{"messages": [...]}` (the
//! last message is the assistant's answer; earlier ones go through the model's chat template
//! with the generation prompt, as at inference) or `{"prompt", "response"}`; pretraining rows
//! are `{"text"}` or a `.txt` corpus (documents split at blank lines, joined by EOS, cut into
//! windows). Sequences are packed back to back without padding, each attending to itself.

use crate::config::{DataSection, RunKind};
use crate::error::{Result, TrainError};
use reasoner_model::LoadedModel;
use reasoner_model::chat_template::ChatMessage;
use serde_json::Value;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub ids: Vec<u32>,
    /// `mask[i]`: train on predicting `ids[i]` (index 0 is never predicted).
    pub mask: Vec<bool>,
}

impl Example {
    pub fn trained_tokens(&self) -> usize {
        self.mask.iter().skip(1).filter(|&&m| m).count()
    }
}

/// The largest dataset a run reads (it is held in memory, tokenized): a bound, so that a path
/// like /dev/zero is refused instead of read until memory runs out.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

fn read_bounded(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_DATA_BYTES + 1).read_to_end(&mut bytes).map_err(|e| TrainError::io(path, e))?;
    if bytes.len() as u64 > MAX_DATA_BYTES {
        return Err(TrainError::Data {
            path: path.to_path_buf(),
            message: format!("larger than {} MiB; split it into several runs", MAX_DATA_BYTES >> 20),
        });
    }
    String::from_utf8(bytes).map_err(|e| TrainError::Data {
        path: path.to_path_buf(),
        message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })
}

/// Read and tokenize a dataset for an SFT or pretraining run.
pub fn load_examples(path: &Path, model: &LoadedModel, data: &DataSection, kind: RunKind) -> Result<Vec<Example>> {
    let tok = model.tokenizer.as_ref().ok_or_else(|| TrainError::Data {
        path: model.path.clone(),
        message: "the model has no tokenizer.json, so text cannot be tokenized".into(),
    })?;
    let eos = tok
        .eos_token
        .as_deref()
        .and_then(|t| tok.token_id(t))
        .or_else(|| model.generation.eos_token_id.first().copied());
    let text = read_bounded(path)?;
    let mut out = Vec::new();
    if path.extension().is_some_and(|e| e == "txt") {
        let docs: Vec<&str> = text.split("\n\n").map(str::trim).filter(|d| !d.is_empty()).collect();
        pack_documents(&docs, tok, eos, data.max_seq_len, &mut out)?;
    } else {
        let mut docs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| TrainError::DataLine { path: path.to_path_buf(), line: i + 1, message };
            let row: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
            match (kind, row.get("text").and_then(Value::as_str)) {
                (RunKind::Pretrain, Some(t)) => docs.push(t.to_string()),
                (RunKind::Pretrain, None) => return Err(bad("a pretraining row needs a string `text`".into())),
                _ => {
                    let (prompt, response) = prompt_and_response(&row, model, data.template).map_err(bad)?;
                    let mut ids = tok.encode(&prompt, false)?;
                    let n_prompt = ids.len();
                    ids.extend(tok.encode(&response, false)?);
                    ids.extend(eos);
                    ids.truncate(data.max_seq_len);
                    if ids.len() <= n_prompt {
                        return Err(bad(format!(
                            "the prompt alone fills max_seq_len ({}), nothing is left to train on",
                            data.max_seq_len
                        )));
                    }
                    let mask = (0..ids.len()).map(|j| j >= n_prompt).collect();
                    out.push(Example { ids, mask });
                }
            }
        }
        if kind == RunKind::Pretrain {
            let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
            pack_documents(&refs, tok, eos, data.max_seq_len, &mut out)?;
        }
    }
    if out.is_empty() {
        return Err(TrainError::Data { path: path.to_path_buf(), message: "the dataset holds no examples".into() });
    }
    Ok(out)
}

/// Prompt text (rendered) and response text of one SFT row.
fn prompt_and_response(
    row: &Value,
    model: &LoadedModel,
    template: bool,
) -> std::result::Result<(String, String), String> {
    if let Some(msgs) = row.get("messages") {
        let mut messages: Vec<ChatMessage> = serde_json::from_value(msgs.clone())
            .map_err(|e| format!("`messages` must be a list of {{role, content}}: {e}"))?;
        let last = messages.pop().ok_or("`messages` is empty")?;
        if last.role != "assistant" {
            return Err(format!("the last message must be the assistant's (found role `{}`)", last.role));
        }
        if messages.is_empty() {
            return Err("`messages` needs a user message before the assistant's".into());
        }
        let response = match &last.reasoning_content {
            Some(r) => format!("<think>\n{}\n</think>\n\n{}", r.trim(), last.content.trim()),
            None => last.content.clone(),
        };
        return render(model, &messages, response);
    }
    let prompt = row.get("prompt").and_then(Value::as_str);
    let response = row.get("response").and_then(Value::as_str);
    match (prompt, response) {
        (Some(p), Some(r)) if template => {
            render(model, &[ChatMessage { role: "user".into(), content: p.into(), reasoning_content: None }], r.into())
        }
        (Some(p), Some(r)) => Ok((p.into(), r.into())),
        _ => Err("a row needs `messages`, or string `prompt` and `response`".into()),
    }
}

/// The conversation so far through the chat template (generation prompt on); when the template
/// already opened `<think>`, the response's own opening tag is dropped so it is not doubled.
fn render(
    model: &LoadedModel,
    messages: &[ChatMessage],
    response: String,
) -> std::result::Result<(String, String), String> {
    let tmpl =
        model.chat_template.as_ref().ok_or("the model has no chat template; set `template = false` in [data]")?;
    let prompt = tmpl.render(messages, true, &serde_json::Map::new()).map_err(|e| e.to_string())?;
    let response = if reasoner_engine::prompt::ends_inside_think(&prompt) {
        response
            .trim_start()
            .strip_prefix("<think>")
            .map(|r| r.trim_start_matches('\n').to_string())
            .unwrap_or(response)
    } else {
        response
    };
    Ok((prompt, response))
}

/// Documents joined by EOS and cut into windows of `max_len` tokens, every token trained.
fn pack_documents(
    docs: &[&str],
    tok: &reasoner_model::tokenizer::TextTokenizer,
    eos: Option<u32>,
    max_len: usize,
    out: &mut Vec<Example>,
) -> Result<()> {
    let mut stream = Vec::new();
    for d in docs {
        stream.extend(tok.encode(d, false)?);
        stream.extend(eos);
    }
    for w in stream.chunks(max_len) {
        if w.len() >= 2 {
            out.push(Example { ids: w.to_vec(), mask: vec![true; w.len()] });
        }
    }
    Ok(())
}

/// The order of examples in `epoch`: a seeded shuffle, the same on every resume.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng =
        reasoner_model::named_tensors::SplitMix64(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// Walks the data in seeded epochs; its position is the (epoch, index) a checkpoint stores.
pub struct DataCursor {
    pub epoch: usize,
    pub index: usize,
    seed: u64,
    order: Vec<usize>,
}

impl DataCursor {
    pub fn new(n: usize, seed: u64, epoch: usize, index: usize) -> Self {
        Self { epoch, index, seed, order: epoch_order(n, seed, epoch) }
    }

    pub fn next_index(&mut self) -> usize {
        if self.index >= self.order.len() {
            self.epoch += 1;
            self.index = 0;
            self.order = epoch_order(self.order.len(), self.seed, self.epoch);
        }
        self.index += 1;
        self.order[self.index - 1]
    }
}
