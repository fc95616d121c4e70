//! reasoner-server: an OpenAI- and DeepSeek-compatible HTTP API over the step engine (axum +
//! tokio), with the thinking returned as `reasoning_content`, API keys, rate limits, a bounded
//! queue, metrics, SQLite conversation history and a web chat page. Private by default: it
//! listens on 127.0.0.1 and makes no outbound connection.

pub mod auth;
pub mod completions;
pub mod engine_loop;
pub mod error;
pub mod generate;
pub mod history;
pub mod metrics;
pub mod openai;
pub mod routes;
pub mod state;
pub mod web;

use reasoner_engine::{EngineConfig, EngineError};
use reasoner_model::LoadedModel;
use state::AppState;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    pub api_keys: Option<PathBuf>,
    pub db: Option<PathBuf>,
    /// Requests per minute per key where the keys file gives none; 0: unlimited.
    pub rate_limit_rpm: u32,
    pub max_batch: usize,
    /// Requests that may wait for a place in the batch; more get 503.
    pub max_queue: usize,
    pub kv_budget_bytes: Option<usize>,
    pub prefix_cache_bytes: usize,
    /// After SIGTERM: how long open streams may run on before they are ended.
    pub shutdown_grace: Duration,
    /// MTP speculative decoding (checkpoints with an MTP module).
    pub speculative: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: None,
            db: None,
            rate_limit_rpm: 0,
            max_batch: 16,
            max_queue: 256,
            kv_budget_bytes: None,
            prefix_cache_bytes: 256 << 20,
            shutdown_grace: Duration::from_secs(30),
            speculative: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("API keys: {0}")]
    Keys(#[from] auth::KeysError),
    #[error(transparent)]
    History(#[from] history::HistoryError),
    #[error("listening on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Serve `model` until SIGTERM or Ctrl-C. The engine runs on the calling thread (so a caller
/// inside a compute thread pool keeps the forward pass there); HTTP runs on its own runtime.
/// `ready` gets the bound address (port 0 picks a free one).
pub fn serve(model: LoadedModel, cfg: ServerConfig, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    if cfg.speculative && model.model.mtp_draft().is_none() {
        return Err(EngineError::NoMtp { path: model.path.clone() }.into());
    }
    let keys = cfg.api_keys.as_deref().map(auth::ApiKeys::load).transpose()?;
    let history = cfg.db.as_deref().map(history::History::open).transpose()?;
    let model = Arc::new(model);
    let model_id = model
        .path
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".gguf").to_string())
        .unwrap_or_else(|| "model".into());
    let max_positions = model.model.info().max_positions;
    let (handle, engine_loop) = engine_loop::engine_channel();
    let state = Arc::new(AppState {
        engine: handle.clone(),
        model: model.clone(),
        model_id,
        keys,
        limiter: auth::RateLimiter::default(),
        default_rpm: cfg.rate_limit_rpm,
        metrics: metrics::Metrics::default(),
        inflight: AtomicUsize::new(0),
        max_inflight: cfg.max_batch + cfg.max_queue,
        shutting_down: AtomicBool::new(false),
        history,
        created: generate::now_secs(),
        max_positions,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(cfg.addr))
        .map_err(|source| ServeError::Bind { addr: cfg.addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind { addr: cfg.addr, source })?;
    let app = routes::router(state.clone());
    let grace = cfg.shutdown_grace;
    let http_handle = handle.clone();
    let http = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::watch::channel(false);
                let signal_state = state.clone();
                let stopping = async move {
                    wait_for_signal().await;
                    signal_state.shutting_down.store(true, Ordering::SeqCst);
                    let _ = tx.send(true);
                };
                let server = axum::serve(listener, app).with_graceful_shutdown(stopping);
                let deadline = async move {
                    let _ = rx.wait_for(|v| *v).await;
                    tokio::time::sleep(grace).await;
                };
                tokio::select! {
                    r = server => if let Err(e) = r { eprintln!("reasoner serve: {e}") },
                    _ = deadline => eprintln!("reasoner serve: open streams ended after the shutdown grace period"),
                }
            });
            // Dropping the runtime drops every open stream, which cancels its requests.
            drop(rt);
            http_handle.shutdown();
        })
        .map_err(ServeError::Runtime)?;
    ready(bound);
    let engine_cfg = EngineConfig {
        max_batch: cfg.max_batch.max(1),
        kv_budget_bytes: cfg.kv_budget_bytes,
        prefix_cache_bytes: cfg.prefix_cache_bytes,
        speculative: cfg.speculative,
        ..EngineConfig::default()
    };
    drop(handle);
    let result = engine_loop.run(&model, engine_cfg);
    let _ = http.join();
    result?;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
