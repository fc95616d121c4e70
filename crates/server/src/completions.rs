//! `POST /v1/chat/completions` and `POST /v1/completions`, streaming and not. Chat answers carry
//! the thinking as `reasoning_content` beside `content`, in the message and in each delta (the
//! thinking's deltas come first), as DeepSeek's API does; earlier assistant turns' thinking is
//! left out of the prompt by the model's own template.

use crate::error::{ApiError, ApiResult};
use crate::generate::{ChoiceResult, Item, Running, logprob_json, now_secs, response_id, start, usage};
use crate::openai::{Common, check_model, parse_chat, parse_completion, parse_json};
use crate::state::Shared;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use reasoner_engine::prompt::{chat_prompt, ends_inside_think};
use reasoner_engine::{Completion, EngineError, Request, Segment};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::convert::Infallible;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Text,
}

/// The fields every chunk and answer of one response repeats.
#[derive(Clone)]
struct Header {
    id: String,
    created: u64,
    model: String,
    kind: Kind,
}

fn requests(ids: Vec<u32>, think_open: bool, raw: bool, c: &Common) -> Vec<Request> {
    (0..c.n)
        .map(|i| Request {
            prompt_ids: ids.clone(),
            params: reasoner_engine::SamplingParams { seed: c.params.seed.wrapping_add(i as u64), ..c.params.clone() },
            stop: c.stop.clone(),
            think_open,
            thinking_budget: c.thinking_budget,
            ignore_eos: c.ignore_eos,
            logprobs: c.logprobs,
            raw,
        })
        .collect()
}

fn too_long(state: &Shared, tokens: usize) -> ApiResult<()> {
    if tokens >= state.max_positions {
        return Err(EngineError::PromptTooLong { tokens, limit: state.max_positions }.into());
    }
    Ok(())
}

pub async fn chat(State(state): State<Shared>, body: Bytes) -> ApiResult<Response> {
    let obj = parse_json(&body)?;
    check_model(&obj, &state.model_id)?;
    let b = parse_chat(&obj, &state.model.generation)?;
    let p = chat_prompt(&state.model, &b.messages, &Default::default()).map_err(|e| match e {
        EngineError::Model(m) => ApiError::bad_field("messages", m.to_string()),
        other => ApiError::from(other),
    })?;
    too_long(&state, p.ids.len())?;
    let run = start(&state, requests(p.ids, p.think_open, false, &b.common)).await?;
    let header =
        Header { id: response_id("chatcmpl"), created: now_secs(), model: state.model_id.clone(), kind: Kind::Chat };
    respond(run, header, &b.common).await
}

pub async fn text(State(state): State<Shared>, body: Bytes) -> ApiResult<Response> {
    let obj = parse_json(&body)?;
    check_model(&obj, &state.model_id)?;
    let b = parse_completion(&obj, &state.model.generation)?;
    let tok = state.model.tokenizer.as_ref().ok_or_else(|| ApiError::internal("the model has no tokenizer"))?;
    let ids = tok.encode(&b.prompt, true).map_err(|e| ApiError::bad_field("prompt", e.to_string()))?;
    too_long(&state, ids.len())?;
    let run = start(&state, requests(ids, ends_inside_think(&b.prompt), true, &b.common)).await?;
    let header =
        Header { id: response_id("cmpl"), created: now_secs(), model: state.model_id.clone(), kind: Kind::Text };
    respond(run, header, &b.common).await
}

async fn respond(mut run: Running, header: Header, c: &Common) -> ApiResult<Response> {
    if c.stream {
        return Ok(stream(run, header, c.include_usage));
    }
    let results = run.collect().await?;
    Ok(Json(whole(&header, &results)).into_response())
}

fn whole(h: &Header, results: &[ChoiceResult]) -> Value {
    let completions: Vec<&Completion> = results.iter().filter_map(|r| r.completion.as_ref()).collect();
    let cached = results.first().map_or(0, |r| r.cached_tokens);
    let choices: Vec<Value> = results
        .iter()
        .zip(&completions)
        .enumerate()
        .map(|(i, (r, c))| {
            let logprobs = if r.logprobs.is_empty() { Value::Null } else { json!({"content": r.logprobs}) };
            match h.kind {
                Kind::Chat => json!({
                    "index": i,
                    "message": {"role": "assistant", "content": c.content, "reasoning_content": c.reasoning},
                    "logprobs": logprobs,
                    "finish_reason": c.finish_reason,
                }),
                Kind::Text => {
                    json!({"index": i, "text": r.text, "logprobs": logprobs, "finish_reason": c.finish_reason})
                }
            }
        })
        .collect();
    let object = if h.kind == Kind::Chat { "chat.completion" } else { "text_completion" };
    json!({
        "id": h.id, "object": object, "created": h.created, "model": h.model,
        "choices": choices, "usage": usage(&completions, cached),
    })
}

struct StreamState {
    run: Running,
    header: Header,
    include_usage: bool,
    queue: VecDeque<String>,
    role_sent: Vec<bool>,
    finished: Vec<Option<Completion>>,
    cached: usize,
    done: bool,
}

impl StreamState {
    fn chunk(&self, choice: Value, usage: Option<Value>) -> String {
        let object = if self.header.kind == Kind::Chat { "chat.completion.chunk" } else { "text_completion" };
        let choices = if choice.is_null() { json!([]) } else { json!([choice]) };
        let mut v = json!({"id": self.header.id, "object": object, "created": self.header.created, "model": self.header.model, "choices": choices});
        if let Some(u) = usage {
            v["usage"] = u;
        } else if self.include_usage {
            v["usage"] = Value::Null;
        }
        v.to_string()
    }

    fn delta(&mut self, i: usize, delta: Value, logprobs: Value, finish: Option<&str>) {
        let choice = match self.header.kind {
            Kind::Chat => {
                let mut delta = delta;
                if !self.role_sent[i] {
                    self.role_sent[i] = true;
                    delta["role"] = json!("assistant");
                }
                json!({"index": i, "delta": delta, "logprobs": logprobs, "finish_reason": finish})
            }
            Kind::Text => {
                let text =
                    delta.get("content").or_else(|| delta.get("reasoning_content")).cloned().unwrap_or(json!(""));
                json!({"index": i, "text": text, "logprobs": logprobs, "finish_reason": finish})
            }
        };
        let s = self.chunk(choice, None);
        self.queue.push_back(s);
    }

    fn item(&mut self, item: Item) {
        match item {
            Item::Segment(i, Segment::Reasoning(t)) => {
                // Raw text completions route everything to content; this is chat only.
                self.delta(i, json!({"reasoning_content": t, "content": null}), Value::Null, None)
            }
            Item::Segment(i, Segment::Content(t)) => self.delta(i, json!({"content": t}), Value::Null, None),
            Item::Token(i, lp) => {
                let lp = json!({"content": [logprob_json(&self.run.state, &lp)]});
                self.delta(i, json!({}), lp, None)
            }
            Item::Finished(i, r) => {
                if i == 0 {
                    self.cached = r.cached_tokens;
                }
                let reason = r.completion.as_ref().map(|c| c.finish_reason.clone()).unwrap_or_default();
                self.delta(i, json!({}), Value::Null, Some(&reason));
                self.finished[i] = r.completion;
                if self.finished.iter().all(Option::is_some) {
                    if self.include_usage {
                        let cs: Vec<&Completion> = self.finished.iter().flatten().collect();
                        let s = self.chunk(Value::Null, Some(usage(&cs, self.cached)));
                        self.queue.push_back(s);
                    }
                    self.end();
                }
            }
        }
    }

    fn end(&mut self) {
        self.queue.push_back("[DONE]".into());
        self.done = true;
    }
}

fn stream(run: Running, header: Header, include_usage: bool) -> Response {
    let n = run.ids.len();
    let st = StreamState {
        run,
        header,
        include_usage,
        queue: VecDeque::new(),
        role_sent: vec![false; n],
        finished: vec![None; n],
        cached: 0,
        done: false,
    };
    let events = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(s) = st.queue.pop_front() {
                return Some((Ok::<_, Infallible>(SseEvent::default().data(s)), st));
            }
            if st.done {
                return None;
            }
            match st.run.next().await {
                Some(Ok(item)) => st.item(item),
                Some(Err(e)) => {
                    st.queue.push_back(e.body().to_string());
                    st.end();
                }
                None => {
                    st.queue.push_back(
                        ApiError::internal("the server stopped before the request finished").body().to_string(),
                    );
                    st.end();
                }
            }
        }
    });
    Sse::new(events).into_response()
}
