//! `reasoner serve [--model PATH] [--addr 127.0.0.1:8080] [--db FILE] [--api-keys FILE]`: the
//! OpenAI-compatible API and the web chat page over the continuous-batching engine. Listens on
//! loopback unless `--addr` says otherwise.

use crate::model_arg;
use anyhow::{Context, Result};
use clap::Args;
use reasoner_server::{ServerConfig, serve};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub compute: crate::compute_args::ComputeArgs,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    /// Address to listen on; loopback by default (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// SQLite file for the web chat's conversations (created if missing); without it the page
    /// keeps them in the browser's memory.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// File of API keys, one a line: `sha256:HEX [requests-per-minute]` (or a plain key, hashed
    /// on load). Without it the API is open to whoever can reach the address.
    #[arg(long)]
    pub api_keys: Option<PathBuf>,
    /// Requests per minute per key when its line gives none (0: unlimited).
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Sequences decoded together.
    #[arg(long, default_value_t = 16)]
    pub max_batch: usize,
    /// Requests that may wait for a place in the batch; more get 503.
    #[arg(long, default_value_t = 256)]
    pub max_queue: usize,
    /// KV-cache budget in MiB for running requests (each reserves prompt + max_tokens);
    /// requests wait for room, and one larger than the budget gets 413. Default: no limit.
    #[arg(long)]
    pub kv_budget_mb: Option<usize>,
    /// MiB kept for the prefix cache (0 turns it off).
    #[arg(long, default_value_t = 256)]
    pub prefix_cache_mb: usize,
    /// Seconds open streams may run on after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Decode with the checkpoint's MTP module as draft (DeepSeek-V3 style checkpoints only);
    /// thinking budgets, logprobs and ignore_eos are then refused per request.
    #[arg(long)]
    pub speculative: bool,
}

pub fn run(a: ServeArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| serve_model(a))
}

fn serve_model(a: ServeArgs) -> Result<()> {
    let m = model_arg::open_with_cache(&a.model, a.kv_cache, a.load)?;
    // Every route takes text, so a model without a tokenizer could only answer 500s.
    if m.tokenizer.is_none() {
        anyhow::bail!(
            "{} has no tokenizer.json, and the server turns text into tokens with it; add the model's \
             tokenizer.json (and tokenizer_config.json for its chat template)",
            m.path.display()
        );
    }
    let cfg = ServerConfig {
        addr: a.addr,
        api_keys: a.api_keys.clone(),
        db: a.db.clone(),
        rate_limit_rpm: a.rate_limit,
        max_batch: a.max_batch,
        max_queue: a.max_queue,
        kv_budget_bytes: a.kv_budget_mb.map(|mb| mb << 20),
        prefix_cache_bytes: a.prefix_cache_mb << 20,
        shutdown_grace: Duration::from_secs(a.shutdown_grace),
        speculative: a.speculative,
    };
    let path = m.path.display().to_string();
    serve(m, cfg, |addr| eprintln!("reasoner serve: {path} on http://{addr}"))
        .with_context(|| format!("serving {path} (--addr {}, --db, --api-keys)", a.addr))
}
