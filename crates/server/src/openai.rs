//! Reading OpenAI / DeepSeek request bodies into engine requests, field by field, so that a bad
//! field is a 400 that names it. Sampling defaults come from the model's generation_config.json
//! (then DeepSeek's recommended 0.6 / 0.95), as in `reasoner chat`.

use crate::error::{ApiError, ApiResult};
use reasoner_engine::SamplingParams;
use reasoner_model::chat_template::ChatMessage;
use reasoner_model::config::GenerationDefaults;
use serde_json::{Map, Value};

/// `reasoning_effort` as thinking budgets in tokens; `high` leaves the thinking unlimited.
pub const EFFORT_LOW: usize = 1024;
pub const EFFORT_MEDIUM: usize = 4096;
/// New tokens when the request gives no `max_tokens` (DeepSeek's default for its reasoner is
/// 32K; the context limit cuts this further).
pub const DEFAULT_MAX_TOKENS: usize = 4096;
pub const MAX_N: usize = 16;

/// The options chat and text completions share.
#[derive(Debug, Clone)]
pub struct Common {
    pub stream: bool,
    pub include_usage: bool,
    pub n: usize,
    pub params: SamplingParams,
    pub stop: Vec<String>,
    pub logprobs: Option<usize>,
    pub ignore_eos: bool,
    pub thinking_budget: Option<usize>,
}

pub struct ChatBody {
    pub messages: Vec<ChatMessage>,
    pub common: Common,
}

pub struct CompletionBody {
    pub prompt: String,
    pub common: Common,
}

pub fn parse_json(body: &[u8]) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("the request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("invalid JSON in the request body: {e}"))),
    }
}

/// A 404 unless `model` is absent or names the served model.
pub fn check_model(obj: &Map<String, Value>, served: &str) -> ApiResult<()> {
    match obj.get("model") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(m)) if m == served => Ok(()),
        Some(Value::String(m)) => Err(ApiError::not_found(
            format!("The model `{m}` does not exist; this server serves `{served}`"),
            "model_not_found",
        )),
        Some(_) => Err(ApiError::bad_field("model", "must be a string")),
    }
}

fn present<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn num(obj: &Map<String, Value>, name: &str, lo: f64, hi: f64) -> ApiResult<Option<f64>> {
    match present(obj, name) {
        None => Ok(None),
        Some(v) => {
            let x = v.as_f64().ok_or_else(|| ApiError::bad_field(name, format!("must be a number, got {v}")))?;
            if !(lo..=hi).contains(&x) {
                return Err(ApiError::bad_field(name, format!("must be between {lo} and {hi}, got {x}")));
            }
            Ok(Some(x))
        }
    }
}

fn count(obj: &Map<String, Value>, name: &str, lo: u64, hi: u64) -> ApiResult<Option<usize>> {
    match present(obj, name) {
        None => Ok(None),
        Some(v) => {
            let x = v
                .as_u64()
                .ok_or_else(|| ApiError::bad_field(name, format!("must be a whole number >= {lo}, got {v}")))?;
            if !(lo..=hi).contains(&x) {
                return Err(ApiError::bad_field(name, format!("must be between {lo} and {hi}, got {x}")));
            }
            Ok(Some(x as usize))
        }
    }
}

fn flag(obj: &Map<String, Value>, name: &str) -> ApiResult<bool> {
    match present(obj, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(ApiError::bad_field(name, format!("must be true or false, got {v}"))),
    }
}

fn stop_list(obj: &Map<String, Value>) -> ApiResult<Vec<String>> {
    match present(obj, "stop") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) if a.len() <= 4 => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::bad_field("stop", "must be a string or a list of strings"))
            })
            .collect(),
        Some(Value::Array(_)) => Err(ApiError::bad_field("stop", "at most 4 stop sequences")),
        Some(_) => Err(ApiError::bad_field("stop", "must be a string or a list of strings")),
    }
}

fn common(obj: &Map<String, Value>, defaults: &GenerationDefaults, max_tokens_names: &[&str]) -> ApiResult<Common> {
    let base = SamplingParams::default();
    let stream = flag(obj, "stream")?;
    let include_usage = match present(obj, "stream_options") {
        None => false,
        Some(Value::Object(o)) => flag(o, "include_usage")
            .map_err(|_| ApiError::bad_field("stream_options.include_usage", "must be true or false"))?,
        Some(_) => return Err(ApiError::bad_field("stream_options", "must be an object")),
    };
    let mut max_tokens = None;
    for name in max_tokens_names {
        if let Some(m) = count(obj, name, 1, u32::MAX as u64)? {
            max_tokens = Some(m);
        }
    }
    let seed = match present(obj, "seed") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .map(|s| s as u64)
                .or_else(|| v.as_u64())
                .ok_or_else(|| ApiError::bad_field("seed", format!("must be an integer, got {v}")))?,
        ),
    };
    let sampled = defaults.do_sample.unwrap_or(true);
    let params = SamplingParams {
        temperature: num(obj, "temperature", 0.0, 2.0)?
            .or(if sampled { defaults.temperature } else { Some(0.0) })
            .map_or(base.temperature, |t| t as f32),
        top_p: num(obj, "top_p", 0.0, 1.0)?.or(defaults.top_p).map_or(base.top_p, |t| t as f32),
        top_k: count(obj, "top_k", 0, 1 << 20)?.or(defaults.top_k).unwrap_or(base.top_k),
        min_p: num(obj, "min_p", 0.0, 1.0)?.or(defaults.min_p).map_or(base.min_p, |t| t as f32),
        repeat_penalty: num(obj, "repetition_penalty", 0.01, 10.0)?
            .or(defaults.repetition_penalty)
            .map_or(base.repeat_penalty, |t| t as f32),
        // No seed: a fresh one per request, as OpenAI's sampling is not reproducible unasked.
        seed: seed.unwrap_or_else(fresh_seed),
        max_tokens: max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
    };
    if params.top_p <= 0.0 {
        return Err(ApiError::bad_field("top_p", "must be greater than 0"));
    }
    let budget = count(obj, "thinking_budget_tokens", 0, u32::MAX as u64)?;
    let effort = match present(obj, "reasoning_effort") {
        None => None,
        Some(Value::String(s)) => match s.as_str() {
            "low" => Some(EFFORT_LOW),
            "medium" => Some(EFFORT_MEDIUM),
            "high" => None,
            other => {
                return Err(ApiError::bad_field(
                    "reasoning_effort",
                    format!("must be low, medium or high, got `{other}`"),
                ));
            }
        },
        Some(v) => return Err(ApiError::bad_field("reasoning_effort", format!("must be a string, got {v}"))),
    };
    let logprobs = match present(obj, "logprobs") {
        // Text completions take a number, chat a boolean plus `top_logprobs`.
        Some(Value::Number(_)) => count(obj, "logprobs", 0, 20)?,
        _ if flag(obj, "logprobs")? => Some(count(obj, "top_logprobs", 0, 20)?.unwrap_or(0)),
        _ => None,
    };
    Ok(Common {
        stream,
        include_usage,
        n: count(obj, "n", 1, MAX_N as u64)?.unwrap_or(1),
        params,
        stop: stop_list(obj)?,
        logprobs,
        ignore_eos: flag(obj, "ignore_eos")?,
        thinking_budget: budget.or(effort),
    })
}

fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// Message text: a string, or a list of `{"type": "text", "text": ...}` parts.
fn content_text(v: Option<&Value>, i: usize) -> ApiResult<String> {
    let field = || format!("messages[{i}].content");
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for p in parts {
                match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => out.push_str(t),
                    _ => {
                        return Err(ApiError::bad_field(
                            &field(),
                            "only text parts ({\"type\": \"text\", \"text\": ...}) are supported",
                        ));
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(ApiError::bad_field(&field(), "must be a string or a list of text parts")),
    }
}

pub fn parse_chat(obj: &Map<String, Value>, defaults: &GenerationDefaults) -> ApiResult<ChatBody> {
    let Some(Value::Array(raw)) = present(obj, "messages") else {
        return Err(ApiError::bad_field("messages", "a non-empty list of messages is required"));
    };
    if raw.is_empty() {
        return Err(ApiError::bad_field("messages", "a non-empty list of messages is required"));
    }
    let mut messages = Vec::with_capacity(raw.len());
    for (i, m) in raw.iter().enumerate() {
        let Value::Object(m) = m else {
            return Err(ApiError::bad_field(&format!("messages[{i}]"), "must be an object"));
        };
        let role = match m.get("role").and_then(Value::as_str) {
            Some(r @ ("system" | "user" | "assistant")) => r,
            Some("developer") => "system",
            Some(r) => {
                return Err(ApiError::bad_field(
                    &format!("messages[{i}].role"),
                    format!("`{r}` is not supported (system, user or assistant)"),
                ));
            }
            None => return Err(ApiError::bad_field(&format!("messages[{i}].role"), "is required")),
        };
        // DeepSeek's API answers 400 when thinking is sent back: it is not part of the context.
        if present(m, "reasoning_content").is_some() {
            return Err(ApiError::bad_field(
                &format!("messages[{i}].reasoning_content"),
                "reasoning_content must not be sent back in input messages; send only the content",
            ));
        }
        messages.push(ChatMessage::new(role, &content_text(m.get("content"), i)?));
    }
    Ok(ChatBody { messages, common: common(obj, defaults, &["max_tokens", "max_completion_tokens"])? })
}

pub fn parse_completion(obj: &Map<String, Value>, defaults: &GenerationDefaults) -> ApiResult<CompletionBody> {
    let prompt = match present(obj, "prompt") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) if a.len() == 1 && a[0].is_string() => a[0].as_str().unwrap_or_default().to_string(),
        Some(Value::Array(_)) => {
            return Err(ApiError::bad_field("prompt", "one prompt string per request is supported"));
        }
        _ => return Err(ApiError::bad_field("prompt", "a prompt string is required")),
    };
    if prompt.is_empty() {
        return Err(ApiError::bad_field("prompt", "must not be empty"));
    }
    let mut common = common(obj, defaults, &["max_tokens"])?;
    if present(obj, "max_tokens").is_none() {
        common.params.max_tokens = 16; // OpenAI's default for text completions
    }
    Ok(CompletionBody { prompt, common })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(s: &str) -> Map<String, Value> {
        parse_json(s.as_bytes()).unwrap()
    }

    #[test]
    fn fields_are_read_and_bad_ones_named() {
        let d = GenerationDefaults::default();
        let b = parse_chat(&obj(r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0,"seed":5,"max_completion_tokens":7,"stop":"x","n":2,"reasoning_effort":"low"}"#), &d).unwrap();
        assert_eq!(
            (b.common.params.temperature, b.common.params.seed, b.common.params.max_tokens, b.common.n),
            (0.0, 5, 7, 2)
        );
        assert_eq!(b.common.stop, vec!["x".to_string()]);
        assert_eq!(b.common.thinking_budget, Some(EFFORT_LOW));
        let e =
            parse_chat(&obj(r#"{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#), &d).err().unwrap();
        assert_eq!(e.param.as_deref(), Some("temperature"));
        let e = parse_chat(&obj(r#"{"messages":[{"role":"assistant","content":"a","reasoning_content":"r"}]}"#), &d)
            .err()
            .unwrap();
        assert_eq!(e.param.as_deref(), Some("messages[0].reasoning_content"));
        assert!(parse_json(b"{nope").is_err());
    }
}
