//! `reasoner bench --model PATH [--prompt-tokens N] [--gen-tokens N] [--json]`: prefill and
//! decode speed on fixed pseudo-random token ids, weight bytes and peak resident memory.
//! Decoding ignores EOS so every run does the same amount of work.

use crate::model_arg;
use anyhow::{bail, Result};
use clap::Args;
use reasoner_engine::sampler::argmax;
use reasoner_model::{LogitsFor, SeqInput};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[arg(long, default_value_t = 128)]
    pub prompt_tokens: usize,
    #[arg(long, default_value_t = 64)]
    pub gen_tokens: usize,
    /// Repeat the measurement and report the best run.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    #[arg(long)]
    pub json: bool,
}

/// Peak resident set size of this process (VmHWM), in bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

pub fn run(a: BenchArgs) -> Result<()> {
    if a.prompt_tokens == 0 || a.gen_tokens == 0 || a.repeats == 0 {
        bail!("--prompt-tokens, --gen-tokens and --repeats must be at least 1");
    }
    let m = model_arg::open(&a.model)?;
    let vocab = m.model.info().vocab_size as u64;
    // A fixed LCG so every run and every engine sees the same prompt.
    let mut state = 0x2545F4914F6CDD1Du64;
    let prompt: Vec<u32> = (0..a.prompt_tokens)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % vocab) as u32
        })
        .collect();
    let (mut best_prefill, mut best_decode) = (0.0f64, 0.0f64);
    for _ in 0..a.repeats {
        let mut cache = m.model.new_cache();
        let t0 = Instant::now();
        let logits = m.model.forward(&mut [SeqInput { tokens: &prompt, cache: Some(&mut cache) }], LogitsFor::Last)?;
        let prefill = a.prompt_tokens as f64 / t0.elapsed().as_secs_f64();
        let mut next = argmax(&logits[0].flatten_all()?.to_vec1::<f32>()?);
        let t1 = Instant::now();
        for _ in 0..a.gen_tokens {
            let tok = [next];
            let logits = m.model.forward(&mut [SeqInput { tokens: &tok, cache: Some(&mut cache) }], LogitsFor::Last)?;
            next = argmax(&logits[0].flatten_all()?.to_vec1::<f32>()?);
        }
        let decode = a.gen_tokens as f64 / t1.elapsed().as_secs_f64();
        best_prefill = best_prefill.max(prefill);
        best_decode = best_decode.max(decode);
    }
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let report = serde_json::json!({
        "prompt_tokens": a.prompt_tokens,
        "gen_tokens": a.gen_tokens,
        "prefill_tok_s": best_prefill,
        "decode_tok_s": best_decode,
        "weights_bytes": m.weight_bytes,
        "peak_rss_bytes": peak_rss_bytes(),
        "threads": threads,
    });
    if a.json {
        println!("{report}");
    } else {
        println!("model           {}", m.path.display());
        println!("threads         {threads}");
        println!("prefill         {best_prefill:.1} tok/s ({} tokens)", a.prompt_tokens);
        println!("decode          {best_decode:.1} tok/s ({} tokens)", a.gen_tokens);
        println!("weight bytes    {}", m.weight_bytes);
        println!("peak RSS        {}", report["peak_rss_bytes"]);
    }
    Ok(())
}
