//! The worker subprocess: cases run in a child process under an address-space limit, one JSON
//! line in and one out, so an abort, a failed allocation, a stack overflow or a hang takes down
//! only the worker. The parent notices (end of output, or no answer within the timeout),
//! records the case, and starts a fresh worker.

use crate::formats::Format;
use crate::run_case::{Outcome, WorkerState, run};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the parent starts workers.
#[derive(Clone)]
pub struct WorkerConfig {
    pub root: PathBuf,
    pub reasoner: PathBuf,
    pub mem_mib: u64,
    pub timeout: Duration,
}

/// A running worker, restarted after each crash or hang.
pub struct Worker {
    cfg: WorkerConfig,
    live: Option<Live>,
    pub restarts: usize,
}

struct Live {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
}

const STDERR_TAIL: usize = 4096;

impl Worker {
    pub fn new(cfg: WorkerConfig) -> Self {
        Self { cfg, live: None, restarts: 0 }
    }

    fn start(&mut self) -> Result<&mut Live> {
        if self.live.is_none() {
            let exe = std::env::current_exe().context("locating the fuzzer's own executable")?;
            let mut child = Command::new(exe)
                .arg("worker")
                .arg("--root")
                .arg(&self.cfg.root)
                .arg("--reasoner")
                .arg(&self.cfg.reasoner)
                .arg("--mem-mib")
                .arg(self.cfg.mem_mib.to_string())
                .arg("--timeout-s")
                .arg(self.cfg.timeout.as_secs().to_string())
                .env("RAYON_NUM_THREADS", "1")
                .env("RUST_BACKTRACE", "0")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting a fuzz worker")?;
            let stdin = child.stdin.take().context("worker stdin")?;
            let stdout = child.stdout.take().context("worker stdout")?;
            let stderr_pipe = child.stderr.take().context("worker stderr")?;
            let (tx, lines) = channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let stderr = Arc::new(Mutex::new(VecDeque::new()));
            let tail = Arc::clone(&stderr);
            std::thread::spawn(move || {
                let mut r = BufReader::new(stderr_pipe);
                let mut buf = Vec::new();
                while r.read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) {
                    if let Ok(mut t) = tail.lock() {
                        t.extend(buf.drain(..));
                        while t.len() > STDERR_TAIL {
                            t.pop_front();
                        }
                    }
                    buf.clear();
                }
            });
            self.live = Some(Live { child, stdin, lines, stderr });
        }
        self.live.as_mut().context("worker not started")
    }

    fn stop(&mut self) -> String {
        let Some(mut live) = self.live.take() else { return String::new() };
        let _ = live.child.kill();
        let status = live.child.wait().map(|s| format!("{s}")).unwrap_or_default();
        // The stderr thread drains the pipe until the child is gone.
        std::thread::sleep(Duration::from_millis(20));
        let tail: Vec<u8> = live.stderr.lock().map(|t| t.iter().copied().collect()).unwrap_or_default();
        self.restarts += 1;
        format!("{status}: {}", String::from_utf8_lossy(&tail).trim())
    }

    /// Runs the case laid out at `target` in the worker; crashes and hangs become outcomes.
    pub fn run(&mut self, format: Format, target: &Path, variant: u64) -> Result<Outcome> {
        let timeout = self.cfg.timeout;
        let live = self.start()?;
        if let Ok(mut t) = live.stderr.lock() {
            t.clear();
        }
        let request = json!({"format": format.name(), "target": target, "variant": variant});
        let sent = writeln!(live.stdin, "{request}").and_then(|_| live.stdin.flush());
        let answer = if sent.is_err() { Err(RecvTimeoutError::Disconnected) } else { live.lines.recv_timeout(timeout) };
        Ok(match answer {
            Ok(line) => {
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                let kind = v["outcome"].as_str().unwrap_or("crash").to_string();
                Outcome::from_parts(&kind, v["detail"].as_str().unwrap_or(&line).to_string())
            }
            Err(RecvTimeoutError::Timeout) => {
                let why = self.stop();
                Outcome::Hang(format!("no answer within {timeout:?} ({why})"))
            }
            Err(RecvTimeoutError::Disconnected) => Outcome::Crash(classify(&self.stop())),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut live) = self.live.take() {
            let _ = live.child.kill();
            let _ = live.child.wait();
        }
    }
}

/// Names the kind of a worker's death from its exit status and last words.
fn classify(why: &str) -> String {
    let kind = if why.contains("memory allocation of") || why.contains("capacity overflow") {
        "failed allocation"
    } else if why.contains("overflowed its stack") {
        "stack overflow"
    } else if why.contains("SIGSEGV") || why.contains("signal: 11") {
        "SIGSEGV"
    } else {
        "worker died"
    };
    format!("{kind}: {why}")
}

/// Limits this process's address space to `mib` MiB (so a runaway allocation fails here).
fn limit_memory(mib: u64) {
    let bytes = mib.saturating_mul(1 << 20);
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: setrlimit reads the struct we pass by reference and changes only this process's
    // limits; it has no memory-safety preconditions.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    if rc != 0 {
        eprintln!("warning: cannot limit the worker's memory to {mib} MiB");
    }
}

static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// The worker's main loop: reads requests from stdin until it closes.
pub fn serve(root: PathBuf, reasoner: PathBuf, mem_mib: u64, timeout: Duration) -> Result<()> {
    limit_memory(mem_mib);
    std::panic::set_hook(Box::new(|info| {
        let msg = format!("{info}");
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = Some(msg);
        }
    }));
    let mut state = WorkerState::new(root, reasoner);
    // The command-line target gets less than the parent's timeout, so its hangs are named.
    let cli_timeout = timeout.saturating_sub(Duration::from_secs(3)).max(Duration::from_secs(1));
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.context("reading a request")?;
        let v: Value = serde_json::from_str(&line).context("a request that is not JSON")?;
        let format = v["format"].as_str().and_then(Format::parse).context("a request without a format")?;
        let target = PathBuf::from(v["target"].as_str().unwrap_or_default());
        let variant = v["variant"].as_u64().unwrap_or(0);
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = None;
        }
        let started = std::time::Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&mut state, format, &target, variant, cli_timeout)
        }))
        .unwrap_or_else(|_| {
            let msg = LAST_PANIC.lock().ok().and_then(|mut s| s.take()).unwrap_or_else(|| "a panic".into());
            Outcome::Panic(msg)
        });
        let detail: String = outcome.detail().chars().take(2000).collect();
        let answer = json!({"outcome": outcome.kind(), "detail": detail, "ms": started.elapsed().as_millis() as u64});
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}
