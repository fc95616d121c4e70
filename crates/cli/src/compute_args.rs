//! `--threads` and `--dequant-prefill`: flags of the commands that run the tensor kernels, and
//! only of those. `install` runs a command on a worker of the pool the kernels use.

use anyhow::{Context, Result};
use clap::Args;

/// Cores this process may use: the default of `--threads`.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// `--threads N` alone (for commands that do not prefill, e.g. `quantize`).
#[derive(Args, Clone, Copy)]
pub struct ThreadsArg {
    /// Worker threads for the tensor kernels [default: every core this process may use]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// `--threads` and the prefill path, for the commands that run a model forward.
#[derive(Args, Clone, Copy)]
pub struct ComputeArgs {
    #[command(flatten)]
    pub threads: ThreadsArg,
    /// Prefill quantized GGUF weights through f32 (exact on the dequantized weights, ~1.5x
    /// slower) instead of llama.cpp's 8-bit activations
    #[arg(long, conflicts_with = "int8_prefill")]
    pub dequant_prefill: bool,
    /// The default since 0.1 (kept so scripts that pass it keep working).
    #[arg(long, hide = true)]
    pub int8_prefill: bool,
}

impl ThreadsArg {
    /// Runs `f` on a worker of a pool of `--threads` threads: the thread that drives the forward
    /// pass then takes part in every parallel mat-vec instead of sleeping while others work.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
        let n = self.count();
        if self.threads.is_some() {
            // Set before any worker pool exists; candle and rayon read it when they start.
            // SAFETY: each command's `run` calls `install` first, on the main thread, before
            // anything starts another thread (pools, the Ctrl-C handler), so no other thread can
            // be reading the environment while it changes.
            unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
        }
        on_pool(n, f)
    }

    /// For training: a pool of `--threads` workers that each run one shard of a batch
    /// (reasoner-train's data parallelism), with candle's own ops single-threaded. At training's
    /// sizes an op split across threads ran no faster than one, while shards side by side on two
    /// cores trained 2.2x faster (tiny-r1 SFT, 48 sequences a step).
    pub fn install_training<R: Send>(&self, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
        // candle reads this at every matmul; our pool below is sized explicitly.
        // SAFETY: as in `install`: called first thing on the main thread, before any other
        // thread exists that could read the environment.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
        on_pool(self.count(), f)
    }

    /// `--threads`, or every core this process may use.
    fn count(&self) -> usize {
        self.threads.map_or_else(available_threads, usize::from)
    }
}

/// Runs `f` on a worker of a new pool of `n` threads.
fn on_pool<R: Send>(n: usize, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .with_context(|| format!("starting {n} worker threads"))?;
    pool.install(f)
}

impl ComputeArgs {
    pub fn install<R: Send>(&self, f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
        if self.dequant_prefill {
            reasoner_model::kernels::set_int8_prefill(false);
        }
        self.threads.install(f)
    }
}
