//! Running one HTTP request's generations: submit its `n` choices, then gather their events,
//! either all at once (a JSON answer) or as they come (server-sent events). Dropping the
//! receiver (the client went away) is what cancels the requests in the engine.

use crate::engine_loop::{EngineHandle, Events, Msg};
use crate::error::{ApiError, ApiResult};
use crate::state::{Inflight, Shared};
use reasoner_engine::{Completion, Event, Request, RequestId, Segment, TokenLogprob};
use serde_json::{Value, json};
use std::time::Instant;

pub struct Running {
    pub rx: Events,
    /// Engine id of each choice, by choice index.
    pub ids: Vec<RequestId>,
    pub state: Shared,
    pub started: Instant,
    last_token: Vec<Option<Instant>>,
    finished: usize,
    _place: Inflight,
}

impl Drop for Running {
    /// Dropped before every choice finished: the client went away (or the stream failed).
    fn drop(&mut self) {
        if self.finished < self.ids.len() {
            self.state.metrics.cancelled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// What one choice produced once it finished.
#[derive(Default)]
pub struct ChoiceResult {
    pub completion: Option<Completion>,
    pub text: String,
    pub cached_tokens: usize,
    pub logprobs: Vec<Value>,
}

/// One step of a choice, as the handlers turn it into JSON.
pub enum Item {
    Segment(usize, Segment),
    Token(usize, TokenLogprob),
    Finished(usize, Box<ChoiceResult>),
}

pub async fn start(state: &Shared, requests: Vec<Request>) -> ApiResult<Running> {
    let place = Inflight::take(state, requests.len())?;
    let (tx, rx) = EngineHandle::channel();
    let mut ids = Vec::with_capacity(requests.len());
    for r in requests {
        match state.engine.submit(r, tx.clone()).await {
            Ok(id) => ids.push(id),
            Err(e) => {
                for id in ids {
                    state.engine.cancel(id);
                }
                return Err(e.into());
            }
        }
    }
    let n = ids.len();
    Ok(Running {
        rx,
        ids,
        state: state.clone(),
        started: Instant::now(),
        last_token: vec![None; n],
        finished: 0,
        _place: place,
    })
}

/// OpenAI's per-token log-probability entry.
pub fn logprob_json(state: &Shared, lp: &TokenLogprob) -> Value {
    let text = |id: u32| state.model.tokenizer.as_ref().and_then(|t| t.decode(&[id], false).ok()).unwrap_or_default();
    let entry = |id: u32, logprob: f32| {
        let t = text(id);
        json!({"token": t, "logprob": logprob, "bytes": t.as_bytes()})
    };
    let mut e = entry(lp.token, lp.logprob);
    e["top_logprobs"] = Value::Array(lp.top.iter().map(|&(id, l)| entry(id, l)).collect());
    e
}

impl Running {
    fn index(&self, id: RequestId) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }

    /// The next item of any choice; `None` once the engine has nothing more to send.
    pub async fn next(&mut self) -> Option<ApiResult<Item>> {
        loop {
            let (id, msg) = self.rx.recv().await?;
            let Some(i) = self.index(id) else { continue };
            let ev = match msg {
                Msg::Failed(m) => return Some(Err(ApiError::internal(m))),
                Msg::Event(ev) => ev,
            };
            match ev {
                Event::Segment { segment, .. } => return Some(Ok(Item::Segment(i, segment))),
                Event::Token { logprob, .. } => {
                    let now = Instant::now();
                    match self.last_token[i].replace(now) {
                        None => self.state.metrics.observe_ttft(now.duration_since(self.started).as_secs_f64()),
                        Some(prev) => self.state.metrics.observe_itl(now.duration_since(prev).as_secs_f64()),
                    }
                    if let Some(lp) = logprob {
                        return Some(Ok(Item::Token(i, lp)));
                    }
                }
                Event::Finished { output, .. } => {
                    self.finished += 1;
                    let c = &output.completion;
                    // The prompt is counted once per choice here and once per request in usage.
                    self.state.metrics.add_usage(
                        c.prompt_tokens,
                        c.completion_tokens,
                        c.reasoning_tokens,
                        output.cached_tokens,
                    );
                    let r = ChoiceResult {
                        completion: Some(output.completion),
                        text: output.text,
                        cached_tokens: output.cached_tokens,
                        logprobs: Vec::new(),
                    };
                    return Some(Ok(Item::Finished(i, Box::new(r))));
                }
            }
        }
    }

    /// Wait for every choice to finish.
    pub async fn collect(&mut self) -> ApiResult<Vec<ChoiceResult>> {
        let n = self.ids.len();
        let mut logprobs: Vec<Vec<Value>> = vec![Vec::new(); n];
        let mut done: Vec<Option<ChoiceResult>> = (0..n).map(|_| None).collect();
        while done.iter().any(Option::is_none) {
            match self.next().await {
                None => return Err(ApiError::internal("the engine stopped before the request finished")),
                Some(Err(e)) => return Err(e),
                Some(Ok(Item::Segment(..))) => {}
                Some(Ok(Item::Token(i, lp))) => logprobs[i].push(logprob_json(&self.state, &lp)),
                Some(Ok(Item::Finished(i, mut r))) => {
                    r.logprobs = std::mem::take(&mut logprobs[i]);
                    done[i] = Some(*r);
                }
            }
        }
        Ok(done.into_iter().flatten().collect())
    }
}

/// Usage over all choices: the prompt once, completion and reasoning tokens summed.
pub fn usage(results: &[&Completion], cached: usize) -> Value {
    let prompt = results.first().map_or(0, |c| c.prompt_tokens);
    let completion: usize = results.iter().map(|c| c.completion_tokens).sum();
    let reasoning: usize = results.iter().map(|c| c.reasoning_tokens).sum();
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    })
}

/// `chatcmpl-` / `cmpl-` ids: unique per process run, no randomness source needed.
pub fn response_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{:x}{:04x}", t, NEXT.fetch_add(1, Ordering::Relaxed) & 0xffff)
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
