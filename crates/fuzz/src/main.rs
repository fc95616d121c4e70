//! `reasoner-fuzz`: a mutation fuzzer on stable Rust for every input `reasoner` takes from
//! strangers (issue #26). `run` mutates the committed fixtures and feeds each case to the same
//! functions the commands call, in a worker process under a memory limit and a timeout;
//! `replay` runs a crash corpus (tests/fuzz-corpus) the same way. README "Fuzzing" has the commands.

mod corpus;
mod formats;
mod gguf_fields;
mod mutate_bytes;
mod mutate_json;
mod mutate_template;
mod rng;
mod run_case;
mod safetensors_header;
mod worker;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use formats::Format;
use rng::fnv64;
use run_case::Outcome;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use worker::{Worker, WorkerConfig};

#[derive(Parser)]
#[command(name = "reasoner-fuzz", about = "Mutation fuzzing of reasoner's file formats and command line")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// The repository (seeds and corpus paths are relative to it).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))]
    root: PathBuf,
    /// The `reasoner` binary for command-line cases (default: beside this one).
    #[arg(long)]
    reasoner: Option<PathBuf>,
    /// Address-space limit of a worker, MiB: an allocation past it is a finding. The fixtures
    /// are tiny models (< 2 MB), so anything near a gigabyte is a size taken from the input.
    #[arg(long, default_value_t = 1024)]
    mem_mib: u64,
    /// A case that runs longer is a hang.
    #[arg(long, default_value_t = 20)]
    timeout_s: u64,
}

#[derive(Subcommand)]
enum Cmd {
    /// Mutate the seeds of each format and run the cases.
    Run {
        /// Comma-separated formats, or `all`: gguf, safetensors, config, tokenizer, template,
        /// jsonl, train-config, cli.
        #[arg(long, default_value = "all")]
        format: String,
        /// Cases per format.
        #[arg(long, default_value_t = 1000)]
        cases: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run only this case number (to reproduce a finding).
        #[arg(long)]
        case: Option<u64>,
        /// Print every case's outcome (and the error it ended with).
        #[arg(long)]
        verbose: bool,
        /// Where findings are written, one JSON entry each, by format.
        #[arg(long, default_value = "target/fuzz-crashes")]
        crashes: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Run corpus entries (files or folders; default tests/fuzz-corpus); fails on any finding.
    Replay {
        paths: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Lay a corpus entry out under DIR (to run `reasoner` on it by hand) and print the path.
    LayOut {
        entry: PathBuf,
        dir: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// (internal) The worker process.
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        reasoner: PathBuf,
        #[arg(long)]
        mem_mib: u64,
        #[arg(long)]
        timeout_s: u64,
    },
}

fn worker_config(c: &Common) -> Result<WorkerConfig> {
    let root = c.root.canonicalize().with_context(|| format!("--root {}", c.root.display()))?;
    let reasoner = match &c.reasoner {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("reasoner"),
    };
    Ok(WorkerConfig { root, reasoner, mem_mib: c.mem_mib, timeout: Duration::from_secs(c.timeout_s) })
}

fn work_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("reasoner-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[derive(Default)]
struct Tally {
    counts: BTreeMap<&'static str, u64>,
    slowest: (Duration, u64),
    findings: u64,
}

fn run_format(
    format: Format,
    cfg: &WorkerConfig,
    worker: &mut Worker,
    (cases, seed, only, verbose): (u64, u64, Option<u64>, bool),
    crashes: &Path,
    work: &Path,
) -> Result<Tally> {
    let seeds = formats::seeds(format, &cfg.root);
    if seeds.is_empty() {
        bail!("no seeds for {} under {}", format.name(), cfg.root.display());
    }
    let mut tally = Tally::default();
    let started = Instant::now();
    let mut last_report = Instant::now();
    let range = match only {
        Some(k) => k..k + 1,
        None => 0..cases,
    };
    for case in range {
        let (which, bytes) = formats::generate(format, &seeds, seed, case);
        let base = &seeds[which].base;
        let target = corpus::lay_out(format, &cfg.root, base, &bytes, work)?;
        let t0 = Instant::now();
        let outcome = worker.run(format, &target, fnv64(&bytes))?;
        let took = t0.elapsed();
        if took > tally.slowest.0 {
            tally.slowest = (took, case);
        }
        *tally.counts.entry(outcome.kind()).or_insert(0) += 1;
        if verbose {
            let detail: String = outcome.detail().chars().take(160).collect();
            println!(
                "{} case {case} ({} ms) {}: {}",
                format.name(),
                took.as_millis(),
                outcome.kind(),
                detail.replace('\n', " ")
            );
        }
        if outcome.is_finding() {
            tally.findings += 1;
            record(format, cfg, base, &bytes, &outcome, &format!("seed {seed} case {case}"), crashes)?;
        }
        if last_report.elapsed() > Duration::from_secs(60) {
            last_report = Instant::now();
            eprintln!(
                "  {} … {} cases, {:.0} s, {:?}",
                format.name(),
                case + 1,
                started.elapsed().as_secs_f64(),
                tally.counts
            );
        }
    }
    let n: u64 = tally.counts.values().sum();
    let secs = started.elapsed().as_secs_f64();
    let counts: Vec<String> = tally.counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "{}: {n} cases in {secs:.1} s ({:.1}/s, {} seeds): {}; slowest {} ms (case {}), {} worker restarts",
        format.name(),
        n as f64 / secs.max(1e-9),
        seeds.len(),
        counts.join(", "),
        tally.slowest.0.as_millis(),
        tally.slowest.1,
        worker.restarts,
    );
    Ok(tally)
}

fn record(
    format: Format,
    cfg: &WorkerConfig,
    base: &Path,
    bytes: &[u8],
    outcome: &Outcome,
    found: &str,
    crashes: &Path,
) -> Result<()> {
    let dir = crashes.join(format.name());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = base.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let file = dir.join(format!("{stem}-{:016x}.json", fnv64(bytes)));
    let entry = corpus::entry_json(format, &cfg.root, base, bytes, outcome, found);
    std::fs::write(&file, serde_json::to_string_pretty(&entry)?)
        .with_context(|| format!("writing {}", file.display()))?;
    let detail: String = outcome.detail().chars().take(300).collect();
    println!(
        "FINDING {} {} ({found}): {} -> {}",
        format.name(),
        outcome.kind(),
        detail.replace('\n', " "),
        file.display()
    );
    Ok(())
}

fn replay(paths: Vec<PathBuf>, common: &Common) -> Result<bool> {
    let cfg = worker_config(common)?;
    let paths = if paths.is_empty() { vec![cfg.root.join("tests/fuzz-corpus")] } else { paths };
    let work = work_dir()?;
    let mut worker = Worker::new(cfg.clone());
    let (mut n, mut bad) = (0, 0);
    for p in &paths {
        for file in corpus::entries_under(p) {
            let entry = corpus::read_entry(&cfg.root, &file)?;
            let target = corpus::lay_out(entry.format, &cfg.root, &entry.base, &entry.bytes, &work)?;
            let outcome = worker.run(entry.format, &target, fnv64(&entry.bytes))?;
            n += 1;
            let detail: String = outcome.detail().chars().take(200).collect();
            println!("{} {}: {}", outcome.kind(), file.display(), detail.replace('\n', " "));
            if outcome.is_finding() {
                bad += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("replayed {n} corpus entries: {bad} findings");
    if n == 0 {
        bail!("no corpus entries under {paths:?}");
    }
    Ok(bad == 0)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Worker { root, reasoner, mem_mib, timeout_s } => {
            worker::serve(root, reasoner, mem_mib, Duration::from_secs(timeout_s)).map(|_| true)
        }
        Cmd::Replay { paths, common } => replay(paths, &common),
        Cmd::LayOut { entry, dir, common } => (|| {
            let cfg = worker_config(&common)?;
            let e = corpus::read_entry(&cfg.root, &entry)?;
            let target = corpus::lay_out(e.format, &cfg.root, &e.base, &e.bytes, &dir)?;
            println!("{} (quantize variant: {})", target.display(), fnv64(&e.bytes).is_multiple_of(4));
            Ok(true)
        })(),
        Cmd::Run { format, cases, seed, case, verbose, crashes, common } => (|| {
            let cfg = worker_config(&common)?;
            let list: Vec<Format> = if format == "all" {
                formats::ALL.to_vec()
            } else {
                format
                    .split(',')
                    .map(|f| Format::parse(f.trim()).with_context(|| format!("--format: unknown format `{f}`")))
                    .collect::<Result<_>>()?
            };
            let work = work_dir()?;
            let mut worker = Worker::new(cfg.clone());
            let mut findings = 0;
            for f in list {
                findings += run_format(f, &cfg, &mut worker, (cases, seed, case, verbose), &crashes, &work)?.findings;
            }
            let _ = std::fs::remove_dir_all(&work);
            println!("{findings} findings");
            Ok(findings == 0)
        })(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
