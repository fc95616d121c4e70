//! `reasoner bench --model PATH [--prompt-tokens N] [--gen-tokens N] [--json]`: prefill and
//! decode speed on fixed pseudo-random token ids, weight bytes and peak resident memory.
//! Decoding ignores EOS so every run does the same amount of work. `--speculative` also decodes
//! greedily with the checkpoint's MTP module as draft and reports acceptance and speed-up.

use super::roofline::BandwidthProbe;
use crate::compute_args::ComputeArgs;
use crate::human;
use crate::model_arg;
use anyhow::{Result, bail};
use clap::Args;
use reasoner_engine::SamplingParams;
use reasoner_engine::sampler::argmax;
use reasoner_engine::speculative::generate_speculative;
use reasoner_model::{LoadedModel, LogitsFor, PREFILL_CHUNK, SeqInput, SequenceCache, forward_chunked};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct BenchArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    #[arg(long, default_value_t = 128)]
    pub prompt_tokens: usize,
    #[arg(long, default_value_t = 64)]
    pub gen_tokens: usize,
    /// Repeat the measurement and report the best run.
    #[arg(long, default_value_t = 1)]
    pub repeats: usize,
    #[arg(long)]
    pub json: bool,
    /// Also decode with the checkpoint's MTP module as a one-token draft (DeepSeek-V3) and
    /// report `spec_acceptance_rate`, `spec_decode_tok_s` and `spec_speedup`.
    #[arg(long)]
    pub speculative: bool,
    /// Skip measuring the decode ceiling: after the repeats (and peak RSS), the prompt and
    /// `--gen-tokens` are decoded once more with the memory read bandwidth measured between
    /// every 8 tokens (a 256 MiB buffer read twice, ~20 ms each time).
    #[arg(long)]
    pub no_roofline: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
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

/// More repeats than this measure nothing new and only keep the machine busy.
const MAX_REPEATS: usize = 1000;

pub fn run(a: BenchArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| measure(a))
}

fn measure(a: BenchArgs) -> Result<()> {
    if a.prompt_tokens == 0 || a.gen_tokens == 0 || a.repeats == 0 {
        bail!("--prompt-tokens, --gen-tokens and --repeats must be at least 1");
    }
    let m = model_arg::open_with_cache(&a.model, a.kv_cache, a.load)?;
    if a.speculative && m.model.mtp_draft().is_none() {
        bail!(
            "--speculative: {} has no MTP module (config.json num_nextn_predict_layers is 0 or its weights are missing), so there is no draft to speculate with",
            m.path.display()
        );
    }
    let context = m.model.info().max_positions;
    if a.prompt_tokens.saturating_add(a.gen_tokens) > context {
        bail!(
            "--prompt-tokens {} + --gen-tokens {} is past {}'s context window of {context} tokens",
            a.prompt_tokens,
            a.gen_tokens,
            m.path.display()
        );
    }
    if a.repeats > MAX_REPEATS {
        bail!("--repeats {}: at most {MAX_REPEATS}", a.repeats);
    }
    let vocab = m.model.info().vocab_size as u64;
    // A fixed LCG so every run and every engine sees the same prompt.
    let mut state = 0x2545F4914F6CDD1Du64;
    let prompt: Vec<u32> = (0..a.prompt_tokens)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % vocab) as u32
        })
        .collect();
    // The pool `--threads` set up, which this runs on.
    let threads = rayon::current_num_threads();
    let (mut best_prefill, mut best_decode) = (0.0f64, 0.0f64);
    let mut kv_cache_bytes = 0usize;
    let kv_dtype = m.new_cache().dtype();
    // Peak RSS is read after the first repeat (model, cache and scratch at their largest), before
    // the bandwidth probe's buffer exists.
    let mut peak_rss = None;
    let (mut best_spec, mut spec_acceptance) = (0.0f64, 0.0f64);
    // Warm-up, as llama-bench does: the first pass over memory-mapped weights pays page faults.
    {
        let mut cache = m.new_cache();
        m.model.forward(&mut [SeqInput { tokens: &prompt[..1], cache: Some(&mut cache) }], LogitsFor::Last)?;
    }
    for _ in 0..a.repeats {
        let mut cache = m.new_cache();
        let t0 = Instant::now();
        // As `generate` and llama-bench (its default micro-batch) feed a prompt.
        let logits = forward_chunked(
            m.model.as_ref(),
            &mut [SeqInput { tokens: &prompt, cache: Some(&mut cache) }],
            PREFILL_CHUNK,
        )?;
        let prefill = a.prompt_tokens as f64 / t0.elapsed().as_secs_f64();
        let mut plain_tokens = vec![argmax(&logits[0].flatten_all()?.to_vec1::<f32>()?)];
        let t1 = Instant::now();
        decode_greedy(&m, &mut cache, &mut plain_tokens, a.gen_tokens)?;
        let decode = a.gen_tokens as f64 / t1.elapsed().as_secs_f64();
        kv_cache_bytes = kv_cache_bytes.max(cache.allocated_bytes());
        best_prefill = best_prefill.max(prefill);
        if a.speculative {
            // The same greedy tokens: the first from the prompt pass, then gen_tokens decoded.
            let params = SamplingParams::greedy(a.gen_tokens + 1);
            let (tokens, stats) = generate_speculative(&m, &prompt, &params, a.gen_tokens + 1, &[])?;
            if tokens != plain_tokens {
                let at = tokens.iter().zip(&plain_tokens).position(|(x, y)| x != y).unwrap_or(tokens.len());
                eprintln!(
                    "warning: speculative greedy output differs from plain decoding at token {at} (a near-tie in the logits?)"
                );
            }
            best_spec = best_spec.max(stats.decode_tokens as f64 / stats.decode_secs);
            spec_acceptance = stats.acceptance_rate();
        }
        if peak_rss.is_none() {
            peak_rss = Some(peak_rss_bytes());
        }
        best_decode = best_decode.max(decode);
    }
    let mut report = serde_json::json!({
        "prompt_tokens": a.prompt_tokens,
        "gen_tokens": a.gen_tokens,
        "prefill_tok_s": best_prefill,
        "decode_tok_s": best_decode,
        "weights_bytes": m.weight_bytes,
        "peak_rss_bytes": peak_rss.unwrap_or_else(peak_rss_bytes),
        "threads": threads,
        // Allocated KV-cache bytes at the end of decode: RSS is judged against weights + cache.
        "kv_cache_bytes": kv_cache_bytes,
        "kv_cache_dtype": format!("{kv_dtype:?}").to_lowercase(),
    });
    if let Some(probe) = (!a.no_roofline).then(|| BandwidthProbe::new(threads)).flatten() {
        // Bytes one decode step reads: the weights as the model holds them (f32 for safetensors
        // checkpoints, packed for GGUF) without the embedding table (the file size where
        // unknown), and the KV cache at the mean context length of the decode.
        let weights_read = m.model.decode_weight_bytes().unwrap_or(m.weight_bytes);
        let kv_per_token = m.model.info().kv_cache_bytes_per_token / 4 * kv_dtype.size_in_bytes() as u64;
        let kv_read = kv_per_token * (a.prompt_tokens + a.gen_tokens / 2) as u64;
        let read = weights_read + kv_read;
        let r = decode_beside_probe(&m, &prompt, a.gen_tokens, &probe)?;
        let bandwidth = r.mean_bandwidth();
        report["decode_bytes_per_token"] = read.into();
        report["decode_kv_bytes_per_token"] = kv_read.into();
        report["read_bandwidth_bytes_s"] = bandwidth.into();
        report["read_bandwidth_range_bytes_s"] = serde_json::json!([r.min_bandwidth, r.max_bandwidth]);
        report["decode_ceiling_tok_s"] = (bandwidth / read.max(1) as f64).into();
        report["roofline_decode_tok_s"] = r.tokens_per_s().into();
        report["decode_fraction_of_ceiling"] = r.fraction_of_ceiling(read).into();
    }
    let spec_speedup = best_spec / best_decode;
    if a.speculative {
        report["spec_acceptance_rate"] = spec_acceptance.into();
        report["spec_decode_tok_s"] = best_spec.into();
        report["spec_speedup"] = spec_speedup.into();
    }
    if a.json {
        println!("{report}");
    } else {
        println!("model           {}", m.path.display());
        println!("threads         {threads}");
        println!("prefill         {best_prefill:.1} tok/s ({} tokens)", a.prompt_tokens);
        println!("decode          {best_decode:.1} tok/s ({} tokens)", a.gen_tokens);
        println!("weights         {}", human::bytes(m.weight_bytes));
        let rss = report["peak_rss_bytes"].as_u64().unwrap_or(0);
        let base = m.weight_bytes + kv_cache_bytes as u64;
        println!(
            "KV cache        {} allocated ({})",
            human::bytes(kv_cache_bytes as u64),
            report["kv_cache_dtype"].as_str().unwrap_or("")
        );
        println!(
            "peak RSS        {} ({:+.1}% over weights + KV cache)",
            human::bytes(rss),
            100.0 * (rss as f64 / base.max(1) as f64 - 1.0)
        );
        if let Some(bw) = report["read_bandwidth_bytes_s"].as_f64() {
            let range = &report["read_bandwidth_range_bytes_s"];
            println!(
                "roofline        {:.1} GB/s read ({:.1}–{:.1}) -> at most {:.1} tok/s decode; decoding beside the probe ran {:.1} tok/s, {:.0}% of the ceiling",
                bw / 1e9,
                range[0].as_f64().unwrap_or(0.0) / 1e9,
                range[1].as_f64().unwrap_or(0.0) / 1e9,
                report["decode_ceiling_tok_s"].as_f64().unwrap_or(0.0),
                report["roofline_decode_tok_s"].as_f64().unwrap_or(0.0),
                100.0 * report["decode_fraction_of_ceiling"].as_f64().unwrap_or(0.0)
            );
        }
        if a.speculative {
            println!(
                "speculative     {best_spec:.1} tok/s, {spec_speedup:.2}x plain decode (MTP draft, {:.1}% accepted)",
                100.0 * spec_acceptance
            );
        }
    }
    Ok(())
}

/// Decodes `n` more tokens greedily after the last of `tokens`, appending them.
fn decode_greedy(m: &LoadedModel, cache: &mut SequenceCache, tokens: &mut Vec<u32>, n: usize) -> Result<()> {
    for _ in 0..n {
        let tok = [*tokens.last().expect("the prompt pass gave a first token")];
        let logits = m.model.forward(&mut [SeqInput { tokens: &tok, cache: Some(&mut *cache) }], LogitsFor::Last)?;
        tokens.push(argmax(&logits[0].flatten_all()?.to_vec1::<f32>()?));
    }
    Ok(())
}

/// Tokens decoded per stretch between two bandwidth readings: 0.1–0.4 s on the benchmark
/// shapes, shorter than this VM's memory bandwidth usually holds still (a second or more).
const ROOFLINE_STRETCH: usize = 8;

/// Decode speed against the memory bandwidth of the same moments.
struct RooflineRun {
    tokens: usize,
    decode_secs: f64,
    /// Σ over stretches of (bandwidth beside the stretch × its decode time): the bytes the
    /// memory could have delivered while decoding.
    deliverable_bytes: f64,
    min_bandwidth: f64,
    max_bandwidth: f64,
}

impl RooflineRun {
    fn tokens_per_s(&self) -> f64 {
        self.tokens as f64 / self.decode_secs
    }
    fn mean_bandwidth(&self) -> f64 {
        self.deliverable_bytes / self.decode_secs
    }
    /// Bytes decoding read over bytes the memory could have delivered in that time.
    fn fraction_of_ceiling(&self, bytes_per_token: u64) -> f64 {
        (self.tokens as u64 * bytes_per_token) as f64 / self.deliverable_bytes
    }
}

/// The prompt again, then `n` tokens decoded in stretches of `ROOFLINE_STRETCH` with a bandwidth
/// reading before each stretch and after the last: on a machine whose bandwidth moves by 2× within
/// seconds, a reading taken a run away from the decode can put it at 60% or at 150% of the ceiling.
/// Each stretch is judged against the higher of the readings beside it.
fn decode_beside_probe(m: &LoadedModel, prompt: &[u32], n: usize, probe: &BandwidthProbe) -> Result<RooflineRun> {
    let mut cache = m.new_cache();
    let logits =
        forward_chunked(m.model.as_ref(), &mut [SeqInput { tokens: prompt, cache: Some(&mut cache) }], PREFILL_CHUNK)?;
    let mut tokens = vec![argmax(&logits[0].flatten_all()?.to_vec1::<f32>()?)];
    let mut run = RooflineRun {
        tokens: 0,
        decode_secs: 0.0,
        deliverable_bytes: 0.0,
        min_bandwidth: f64::MAX,
        max_bandwidth: 0.0,
    };
    let mut before = probe.read(2);
    while run.tokens < n {
        let stretch = ROOFLINE_STRETCH.min(n - run.tokens);
        let t = Instant::now();
        decode_greedy(m, &mut cache, &mut tokens, stretch)?;
        let secs = t.elapsed().as_secs_f64();
        let after = probe.read(2);
        run.tokens += stretch;
        run.decode_secs += secs;
        run.deliverable_bytes += before.max(after) * secs;
        run.min_bandwidth = run.min_bandwidth.min(before).min(after);
        run.max_bandwidth = run.max_bandwidth.max(before).max(after);
        before = after;
    }
    Ok(run)
}
