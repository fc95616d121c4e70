//! `reasoner quantize --model PATH --to q8_0|q4_0|q4_k|q6_k|f16 --out FILE.gguf [--keep PAT[=TYPE]]`:
//! write a GGUF file llama.cpp can read, with a progress bar, and say which tensors fell back.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reasoner_model::quantize::{parse_target, quantize_model, KeepRule, QuantizeOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct QuantizeArgs {
    /// An HF model directory or a .gguf file.
    #[arg(long)]
    pub model: PathBuf,
    /// Target type: q8_0, q4_0, q5_0, q4_k, q6_k, f16, bf16, f32.
    #[arg(long, value_parser = parse_target)]
    pub to: reasoner_model::quant::GgmlType,
    #[arg(long)]
    pub out: PathBuf,
    /// Keep tensors whose GGUF name contains PATTERN at TYPE (default f16), e.g.
    /// `--keep token_embd=q8_0 --keep output.weight=q8_0`. Repeatable.
    #[arg(long, value_parser = |s: &str| s.parse::<KeepRule>())]
    pub keep: Vec<KeepRule>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: QuantizeArgs) -> Result<()> {
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let opts = QuantizeOptions { to: a.to, keep: a.keep.clone() };
    let report = quantize_model(&a.model, &a.out, &opts, &mut |done, total, name| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(name.to_string());
    })
    .with_context(|| format!("quantizing {} to {}", a.model.display(), a.out.display()))?;
    bar.finish_and_clear();
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    for (t, wanted, used) in &report.fallbacks {
        eprintln!("fallback: {t}: rows are not whole {wanted} blocks, stored as {used}");
    }
    println!(
        "wrote {} ({} tensors, {} bytes, {:.1}% of f32)",
        a.out.display(),
        report.tensors,
        report.bytes_out,
        100.0 * report.bytes_out as f64 / report.f32_bytes.max(1) as f64
    );
    Ok(())
}
