//! `reasoner quantize --model PATH --to q8_0|q4_0|q5_0|q4_k|q6_k|f16|bf16|f32 --out FILE.gguf`:
//! write a GGUF file llama.cpp can read, with a progress bar, then a summary of the tensor types
//! the file really holds (read back from it) and how many tensors fell back to another type.

use crate::compute_args::ThreadsArg;
use crate::human;
use crate::model_arg;
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reasoner_model::formats::gguf::GgufFile;
use reasoner_model::formats::quantize::{KeepRule, QuantizeOptions, parse_target, quantize_model};
use reasoner_model::quant::GgmlType;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct QuantizeArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    /// Target type: q8_0, q4_0, q5_0, q4_k, q6_k, f16, bf16, f32. K-quants need rows that are
    /// whole 256-value blocks; other tensors fall back as llama-quantize's do.
    #[arg(long, value_parser = parse_target)]
    pub to: GgmlType,
    /// The GGUF file to write.
    #[arg(long, value_name = "FILE.gguf")]
    pub out: PathBuf,
    /// Keep tensors whose GGUF name contains PATTERN at TYPE (default f16), e.g.
    /// `--keep token_embd=q8_0 --keep output.weight=q8_0`. Repeatable.
    #[arg(long, value_name = "PATTERN[=TYPE]", value_parser = |s: &str| s.parse::<KeepRule>())]
    pub keep: Vec<KeepRule>,
    /// Quantize a GGUF file whose weights are already quantized (each step loses precision;
    /// llama-quantize asks for the same flag).
    #[arg(long)]
    pub allow_requantize: bool,
    /// List every tensor that fell back to another type.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub threads: ThreadsArg,
}

pub fn run(a: QuantizeArgs) -> Result<()> {
    let threads = a.threads;
    threads.install(|| convert(a))
}

fn convert(a: QuantizeArgs) -> Result<()> {
    let input = model_arg::resolve(&a.model)?;
    if !a.allow_requantize {
        refuse_requantize(&input)?;
    }
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!("--out {}: the folder {} does not exist", a.out.display(), dir.display());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let opts = QuantizeOptions { to: a.to, keep: a.keep.clone() };
    // The model crate's errors already name the file at fault: say only what was being done.
    let report = quantize_model(&input, &a.out, &opts, &mut |done, total, name| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(name.to_string());
    })
    .with_context(|| format!("quantize to {}", a.to.name()))?;
    bar.finish_and_clear();
    let written = written_types(&a.out)?;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["types"] = serde_json::to_value(&written)?;
        println!("{v}");
        return Ok(());
    }
    println!(
        "wrote {} ({} tensors, {}, {:.1}% of f32)",
        a.out.display(),
        report.tensors,
        human::bytes(report.bytes_out),
        100.0 * report.bytes_out as f64 / report.f32_bytes.max(1) as f64
    );
    for (ty, (n, bytes)) in &written {
        println!("  {ty:<6} {n:>5} tensors  {:>10}", human::bytes(*bytes));
    }
    if !written.contains_key(a.to.name()) {
        println!(
            "note: no tensor is stored as {}: every matrix fell back (their rows are not whole {} blocks)",
            a.to.name(),
            a.to.block_size()
        );
    }
    print_fallbacks(&report.fallbacks, a.verbose);
    Ok(())
}

/// Tensor count and bytes per type, from the file as written.
fn written_types(path: &Path) -> Result<BTreeMap<&'static str, (usize, u64)>> {
    let file = GgufFile::open(path).with_context(|| format!("reading back {}", path.display()))?;
    let mut types: BTreeMap<&'static str, (usize, u64)> = BTreeMap::new();
    for t in file.tensors() {
        let e = types.entry(t.dtype.name()).or_default();
        e.0 += 1;
        e.1 += t.n_bytes;
    }
    Ok(types)
}

/// One line per (wanted → used) pair; each tensor only with --verbose.
fn print_fallbacks(fallbacks: &[(String, String, String)], verbose: bool) {
    if verbose {
        for (t, wanted, used) in fallbacks {
            eprintln!("fallback: {t}: rows are not whole {wanted} blocks, stored as {used}");
        }
        return;
    }
    let mut pairs: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (_, wanted, used) in fallbacks {
        *pairs.entry((wanted, used)).or_default() += 1;
    }
    if !pairs.is_empty() {
        let list: Vec<String> = pairs.iter().map(|((w, u), n)| format!("{n} {w} → {u}")).collect();
        eprintln!("fallbacks (rows not whole blocks): {} (--verbose lists them)", list.join(", "));
    }
}

/// A GGUF input whose matrices are already quantized needs --allow-requantize.
fn refuse_requantize(input: &Path) -> Result<()> {
    if input.extension().is_none_or(|e| e != "gguf") {
        return Ok(());
    }
    let file = GgufFile::open(input).with_context(|| format!("--model {}", input.display()))?;
    let plain = [GgmlType::F32, GgmlType::F16, GgmlType::BF16];
    if let Some(t) = file.tensors().iter().find(|t| !plain.contains(&t.dtype)) {
        bail!(
            "--model {}: already quantized (tensor {} is {}); quantizing again loses more precision: \
             start from the f16/f32 weights, or pass --allow-requantize",
            input.display(),
            t.name,
            t.dtype.name()
        );
    }
    Ok(())
}
