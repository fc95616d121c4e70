//! Prefill on quantized weights runs the integer kernels over Q8-quantized activations (the
//! default, as llama.cpp does). Then prefill gives what token-by-token decode gives, and on
//! llama.cpp's own files what llama.cpp computes.

mod common;
use common::*;

use reasoner_model::formats::quantize::{QuantizeOptions, quantize_model};
use reasoner_model::kernels::set_int8_prefill;
use reasoner_model::load_model;
use reasoner_model::quant::GgmlType;
use reasoner_model::token_logprobs;
use serde_json::Value;
use std::path::PathBuf;

fn llamacpp_dir() -> PathBuf {
    fixture("gguf_llamacpp")
}

fn llamacpp_refs() -> Value {
    serde_json::from_str(&std::fs::read_to_string(llamacpp_dir().join("llamacpp_logprobs.json")).unwrap()).unwrap()
}

/// A tie (file, sequence length, position) where prefill and decode may part by up to 0.01; every
/// other position is held to 1e-4. deepseek_v3.q4_K (30-token case) at position 5: 4.9e-3. The
/// hidden states entering the head differ in their last bits between prefill and decode (with the
/// head in f32, before DeepSeek's head was packed, this showed as < 1e-4); the Q8_0 head quantizes
/// its input to 8 bits, and one value lands on the other side of a rounding step there.
const DECODE_TIES: [(&str, usize, usize); 1] = [("deepseek_v3.q4_K.gguf", 30, 5)];

/// Quantized files (Q8_0; Q4_K with Q6_K and Q5_0 fallbacks, interleaved eight rows at a time;
/// DeepSeek's MoE and MLA in Q8_0 and Q5_0): prefill over a whole sequence equals decoding it one
/// token at a time.
#[test]
fn prefill_equals_token_by_token_decode() {
    set_int8_prefill(true);
    let tmp = tempfile::tempdir().unwrap();
    let mut files: Vec<(PathBuf, Vec<Vec<u32>>)> = Vec::new();
    // DeepSeek in Q8_0, and in Q4_K (its 64-wide rows fall back to Q5_0: interleaved experts).
    for to in [GgmlType::Q8_0, GgmlType::Q4K] {
        let path = tmp.path().join(format!("deepseek_v3.{}.gguf", to.name()));
        quantize_model(&fixture("deepseek_v3"), &path, &QuantizeOptions { to, keep: vec![] }, &mut |_, _, _| {})
            .unwrap();
        files.push((path, golden("deepseek_v3")["cases"].as_array().unwrap().iter().map(|c| ids(&c["ids"])).collect()));
    }
    for (file, entry) in llamacpp_refs()["files"].as_object().unwrap() {
        if !file.ends_with(".f32.gguf") {
            files.push((
                llamacpp_dir().join(file),
                entry["cases"].as_array().unwrap().iter().map(|c| ids(&c["ids"])).collect(),
            ));
        }
    }
    assert!(files.len() >= 6);
    for (path, cases) in files {
        let m = load_model(&path).unwrap();
        for ids in cases.iter().filter(|ids| ids.len() >= 9) {
            let (prefill, decode) =
                (token_logprobs(m.model.as_ref(), ids).unwrap(), decode_logprobs(m.model.as_ref(), ids));
            let d = max_diff(&prefill, &decode);
            eprintln!("{}: {} tokens, prefill vs decode max |Δ| {d:.2e}", path.display(), ids.len());
            let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
            for (pos, (p, q)) in prefill.iter().zip(&decode).enumerate() {
                let tie = DECODE_TIES.iter().any(|t| t.0 == name && t.1 == ids.len() && t.2 == pos);
                let bound = if tie { 0.01 } else { 1e-4 };
                assert!((p - q).abs() <= bound, "{name}: prefill and decode differ by {} at {pos}", (p - q).abs());
            }
        }
    }
}

/// Where llama.cpp's batched numbers are known to part from ours, found with llama.cpp itself
/// (tools/llama_cpp/logprobs.cpp run with n_ubatch = 1, i.e. its own token-by-token decode).
/// A split (file, case, first position) leaves the rest of the case unchecked:
/// - qwen2_k256.q4_k_m case 4 from position 8: llama.cpp's batched path quantizes activations
///   four rows at a time for its repacked Q4_K GEMM and lands 0.16 away from its own decode,
///   which gives our numbers there.
const KNOWN_SPLITS: [(&str, usize, usize); 1] = [("qwen2_k256.q4_k_m.gguf", 4, 8)];
/// A tie (file, case, position) exempts that one position; every other one is checked. One
/// 8-bit activation rounding lands on the other side of a tie (the two engines' f32 ops differ
/// in the last bit: reduction orders, FMA) and these random networks amplify it at that token:
/// - qwen2_f32.q4_k_m case 2 at position 8 (0.03; llama.cpp's batched and token-by-token runs
///   agree with each other there);
/// - qwen2_k256.q4_k_m case 1 at position 11 (0.097), since our attention sums its dots in
///   AVX2 registers with FMA (it was 4e-6 with candle's matmul).
const KNOWN_TIES: [(&str, usize, usize); 2] = [("qwen2_f32.q4_k_m.gguf", 2, 8), ("qwen2_k256.q4_k_m.gguf", 1, 11)];

/// llama.cpp's own quantized files score as llama.cpp scores them. (qwen2_k256.q8_0 is left
/// out: llama.cpp runs it through its repacked block_q8_0x4 path, whose numbers differ from its
/// plain Q8_0 dot and ours, see gguf_llamacpp.rs.)
#[test]
fn prefill_matches_llama_cpp_on_its_quantized_files() {
    set_int8_prefill(true);
    let refs = llamacpp_refs();
    let mut checked = 0;
    for (file, entry) in refs["files"].as_object().unwrap() {
        if file.ends_with(".f32.gguf") || file == "qwen2_k256.q8_0.gguf" {
            continue;
        }
        let m = load_model(&llamacpp_dir().join(file)).unwrap();
        for (ci, case) in entry["cases"].as_array().unwrap().iter().enumerate() {
            let (ours, want) =
                (token_logprobs(m.model.as_ref(), &ids(&case["ids"])).unwrap(), floats(&case["logprobs"]));
            let split = KNOWN_SPLITS.iter().find(|(f, c, _)| f == file && *c == ci).map_or(ours.len(), |s| s.2);
            let tie = KNOWN_TIES.iter().find(|(f, c, _)| f == file && *c == ci).map(|t| t.2);
            let all = max_diff(&ours, &want);
            let (mut ours, mut want) = (ours[..split].to_vec(), want[..split].to_vec());
            if let Some(p) = tie {
                eprintln!("{file} case {ci}: known tie at position {p}: |Δ| {:.2e}", (ours[p] - want[p]).abs());
                (ours[p], want[p]) = (0.0, 0.0);
            }
            let d = max_diff(&ours, &want);
            eprintln!(
                "{file} case {ci}: prefill vs llama.cpp max |Δ| {d:.2e} over {split} positions, {all:.2e} over all"
            );
            assert!(d <= 1e-4, "{file} case {ci}: prefill vs llama.cpp max diff {d}");
            checked += split;
        }
    }
    assert!(checked >= 380, "{checked} positions");
}
