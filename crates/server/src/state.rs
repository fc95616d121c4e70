//! What every handler shares: the engine handle, the model (its tokenizer and chat template
//! render prompts in the handlers), keys, limits, metrics and the optional history database.

use crate::auth::{ApiKeys, RateLimiter};
use crate::engine_loop::EngineHandle;
use crate::error::ApiError;
use crate::history::History;
use crate::metrics::Metrics;
use reasoner_model::LoadedModel;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub struct AppState {
    pub engine: EngineHandle,
    pub model: Arc<LoadedModel>,
    /// The name clients pass as `model` (the model directory's or file's name).
    pub model_id: String,
    pub keys: Option<ApiKeys>,
    pub limiter: RateLimiter,
    /// Requests per minute for a key whose line gives none; 0: unlimited.
    pub default_rpm: u32,
    pub metrics: Metrics,
    /// Generation requests accepted and not yet done (running or queued).
    pub inflight: AtomicUsize,
    /// More than this many and new requests get 503 instead of a place in the queue.
    pub max_inflight: usize,
    pub shutting_down: AtomicBool,
    pub history: Option<History>,
    pub created: u64,
    pub max_positions: usize,
}

pub type Shared = Arc<AppState>;

/// A place among the in-flight requests, given back when dropped (finished, failed or the
/// client went away).
pub struct Inflight {
    state: Shared,
    n: usize,
}

impl Inflight {
    pub fn take(state: &Shared, n: usize) -> Result<Self, ApiError> {
        if state.shutting_down.load(Ordering::SeqCst) {
            return Err(ApiError::overloaded("the server is shutting down"));
        }
        let before = state.inflight.fetch_add(n, Ordering::SeqCst);
        if before + n > state.max_inflight {
            state.inflight.fetch_sub(n, Ordering::SeqCst);
            return Err(ApiError::overloaded(format!(
                "the server is at capacity ({} requests running or queued); retry shortly",
                state.max_inflight
            )));
        }
        Ok(Self { state: state.clone(), n })
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        self.state.inflight.fetch_sub(self.n, Ordering::SeqCst);
    }
}
