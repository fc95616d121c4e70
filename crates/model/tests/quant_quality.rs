//! What 8-bit and 4-bit weights cost in accuracy, on a model that was trained (random fixtures
//! amplify any noise; see tools/golden/make_trained_fixture.py): qwen2_trained, quantized by our
//! `quantize`, scored against transformers' f32 log-probs, in both prefill modes.
//!
//! The bounds (Q8_0 within 0.02 of f32, Q4_K within 0.2) are read as the mean |Δ| per
//! token: the largest single-token change is reported, not bounded, because it is not small for
//! any engine. llama.cpp's own Q8_0 of this model (its converter + llama-quantize, scored by
//! llama.cpp) is off by max 0.178, mean 0.0198, exactly what we compute with int8 prefill.

mod common;
use common::*;

use reasoner_model::formats::quantize::{QuantizeOptions, quantize_model};
use reasoner_model::kernels::set_int8_prefill;
use reasoner_model::quant::GgmlType;
use reasoner_model::token_logprobs;
use reasoner_model::{KvDtype, LoadedModel, load_model};

const FIXTURE: &str = "qwen2_trained";

/// (max |Δ|, mean |Δ|) over every golden case, and the held-out perplexity.
fn score(m: &LoadedModel) -> (f32, f32, f64) {
    let (mut worst, mut sum, mut n) = (0f32, 0f64, 0usize);
    let (mut nll, mut held) = (0f64, 0usize);
    for case in golden(FIXTURE)["cases"].as_array().unwrap() {
        let got = token_logprobs(m.model.as_ref(), &ids(&case["ids"])).unwrap();
        let want = floats(&case["logprobs"]);
        for (a, b) in got.iter().zip(&want) {
            worst = worst.max((a - b).abs());
            sum += (a - b).abs() as f64;
            n += 1;
        }
        if case["kind"] == "heldout" {
            nll -= got.iter().map(|&v| v as f64).sum::<f64>();
            held += got.len();
        }
    }
    (worst, (sum / n as f64) as f32, (nll / held as f64).exp())
}

#[test]
fn quantized_weights_stay_close_to_f32_on_a_trained_model() {
    // Both prefill modes run in this one test, so nothing else in this binary sees the switch.
    let tmp = tempfile::tempdir().unwrap();
    set_int8_prefill(false);
    let f32m = load_model(&fixture(FIXTURE)).unwrap();
    let (d, _, ppl_f32) = score(&f32m);
    assert!(d <= 1e-4, "f32 weights vs transformers: {d}");
    let heldout_ppl = golden(FIXTURE)["train"]["heldout_perplexity"].as_f64().unwrap();
    assert!((ppl_f32 / heldout_ppl - 1.0).abs() < 1e-4, "perplexity {ppl_f32} vs transformers {heldout_ppl}");
    // (type, bound on mean |Δ logprob|: the Q8_0 0.02 and Q4_K 0.2; Q6_K sits between)
    for (to, bound) in [(GgmlType::Q8_0, 0.02f32), (GgmlType::Q6K, 0.2), (GgmlType::Q4K, 0.2)] {
        let out = tmp.path().join(format!("{}.gguf", to.name()));
        quantize_model(&fixture(FIXTURE), &out, &QuantizeOptions { to, keep: vec![] }, &mut |_, _, _| {}).unwrap();
        let m = load_model(&out).unwrap();
        for int8 in [false, true] {
            set_int8_prefill(int8);
            let (worst, mean, ppl) = score(&m);
            let mode = if int8 { "int8 prefill" } else { "dequantized prefill" };
            eprintln!(
                "{FIXTURE} {} ({mode}): |Δ logprob| vs f32 max {worst:.4} mean {mean:.5}; held-out perplexity {ppl:.4} vs {ppl_f32:.4} ({:+.2}%)",
                to.name(),
                100.0 * (ppl / ppl_f32 - 1.0)
            );
            assert!(mean <= bound, "{} ({mode}): mean |Δ logprob| {mean} > {bound}", to.name());
        }
    }
    set_int8_prefill(true);
}

/// What the f16 KV cache (the CLI's default) costs on the trained model: every case decoded token
/// by token through an f16 cache against transformers' f32 numbers, bounded as Q8_0 weights are
/// (mean |Δ logprob| ≤ 0.02), with the held-out perplexity reported beside the f32 cache's.
#[test]
fn f16_kv_cache_stays_close_to_f32_on_a_trained_model() {
    let m = load_model(&fixture(FIXTURE)).unwrap();
    let (mut worst, mut sum, mut n) = (0f32, 0f64, 0usize);
    let mut nll = [0f64; 2];
    let mut held = 0usize;
    for case in golden(FIXTURE)["cases"].as_array().unwrap() {
        let ids = ids(&case["ids"]);
        let f16 = decode_logprobs_in(m.model.as_ref(), &ids, m.model.new_cache_with(KvDtype::F16));
        let f32 = decode_logprobs_in(m.model.as_ref(), &ids, m.model.new_cache_with(KvDtype::F32));
        for (a, b) in f16.iter().zip(&floats(&case["logprobs"])) {
            worst = worst.max((a - b).abs());
            sum += (a - b).abs() as f64;
            n += 1;
        }
        if case["kind"] == "heldout" {
            for (k, lp) in [&f32, &f16].iter().enumerate() {
                nll[k] -= lp.iter().map(|&v| v as f64).sum::<f64>();
            }
            held += f16.len();
        }
    }
    let mean = (sum / n as f64) as f32;
    let [p32, p16] = nll.map(|v| (v / held as f64).exp());
    eprintln!(
        "{FIXTURE} f16 KV cache: |Δ logprob| vs transformers max {worst:.4} mean {mean:.5}; held-out perplexity {p16:.4} vs {p32:.4} with an f32 cache ({:+.3}%)",
        100.0 * (p16 / p32 - 1.0)
    );
    assert!(held > 0 && mean <= 0.02, "f16 KV cache: mean |Δ logprob| {mean}");
}
