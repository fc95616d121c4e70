//! DeepSeek (llama.cpp's `deepseek2`) through GGUF: f32 files written by `quantize` reproduce
//! transformers' golden log-probs (V3, V3 from FP8, V2-Lite, a rotate-half rope checkpoint,
//! the MTP module), the file holds llama.cpp's layout (stacked experts, split kv_b, f32
//! router, `deepseek2.*` keys), Q8_0 files run, and the latent-only KV cache is kept.

mod common;
use common::*;

use candle_core::Tensor;
use reasoner_model::config::RawConfig;
use reasoner_model::formats::gguf::GgufFile;
use reasoner_model::formats::gguf::config::config_from_metadata;
use reasoner_model::formats::gguf::source::GgufSource;
use reasoner_model::formats::quantize::{QuantizeOptions, QuantizeReport, quantize_model};
use reasoner_model::layers::log_softmax_last_dim;
use reasoner_model::models::deepseek_v3::{self, DeepseekV3, Generation, MtpInput};
use reasoner_model::quant::GgmlType;
use reasoner_model::token_logprobs;
use reasoner_model::weights::{VarPath, WeightSource};
use reasoner_model::{LoadedModel, LogitsFor, SeqInput, load_model};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const TOL: f32 = 1e-4;

fn write_gguf(input: &Path, to: GgmlType, out: &Path) -> QuantizeReport {
    // These tests measure what the weight format keeps, so prefill runs on the dequantized
    // weights with f32 activations (every test here wants that; int8 prefill, the default,
    // is checked against decode in int8_prefill.rs).
    reasoner_model::kernels::set_int8_prefill(false);
    quantize_model(input, out, &QuantizeOptions { to, keep: vec![] }, &mut |_, _, _| {}).unwrap()
}

fn to_gguf(name: &str, to: GgmlType, dir: &Path) -> (PathBuf, LoadedModel) {
    let out = dir.join(format!("{name}-{}.gguf", to.name()));
    write_gguf(&fixture(name), to, &out);
    let m = load_model(&out).unwrap();
    (out, m)
}

/// (max, mean) absolute difference to the golden logprobs over every case (ids and texts).
fn golden_diffs(m: &LoadedModel, name: &str) -> (f32, f32) {
    let mut all = Vec::new();
    for case in golden(name)["cases"].as_array().unwrap() {
        let lp = token_logprobs(m.model.as_ref(), &ids(&case["ids"])).unwrap();
        let want = floats(&case["logprobs"]);
        assert_eq!(lp.len(), want.len());
        all.extend(lp.iter().zip(&want).map(|(a, b)| (a - b).abs()));
    }
    (all.iter().copied().fold(0.0, f32::max), all.iter().sum::<f32>() / all.len() as f32)
}

fn golden_diff(m: &LoadedModel, name: &str) -> f32 {
    golden_diffs(m, name).0
}

/// The concrete DeepSeek model from a GGUF file (what MTP drafting needs).
fn open_gguf_deepseek(path: &Path) -> DeepseekV3 {
    let file = Arc::new(GgufFile::open(path).unwrap());
    let src = GgufSource::new(file.clone()).unwrap();
    let vocab = src.shape_of("model.embed_tokens.weight").unwrap()[0];
    let json = config_from_metadata(file.metadata(), path, vocab, &|n| file.tensor(n).is_some()).unwrap();
    let generation = if json["architectures"][0] == "DeepseekV2ForCausalLM" { Generation::V2 } else { Generation::V3 };
    let raw = RawConfig { path: path.to_path_buf(), json };
    deepseek_v3::load(&raw, &VarPath::root(&src), generation).unwrap()
}

#[test]
fn f32_gguf_round_trip_matches_golden() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["deepseek_v3", "deepseek_v3_fp8", "deepseek_v2_lite"] {
        let hf = load_model(&fixture(name)).unwrap();
        let (_, m) = to_gguf(name, GgmlType::F32, tmp.path());
        let worst = golden_diff(&m, name);
        eprintln!("{name}: f32 GGUF max |Δ logprob| vs golden = {worst:.3e}");
        assert!(worst <= TOL, "{name}: f32 GGUF differs from golden by {worst}");
        let (a, b) = (m.model.info(), hf.model.info());
        assert_eq!(a.architecture, b.architecture, "{name}");
        assert_eq!(a.parameters, b.parameters, "{name}: parameter count");
        assert_eq!(a.kv_cache_values_per_token_per_layer, b.kv_cache_values_per_token_per_layer, "{name}");
        // The tokenizer rebuilt from tokenizer.ggml.* tokenizes the golden texts identically.
        for case in golden(name)["cases"].as_array().unwrap().iter().filter(|c| c.get("text").is_some()) {
            let text = case["text"].as_str().unwrap();
            let add = case["add_special_tokens"].as_bool().unwrap_or(true);
            assert_eq!(m.tokenizer.as_ref().unwrap().encode(text, add).unwrap(), ids(&case["ids"]), "{name}: {text:?}");
        }
        assert_eq!(m.eos_ids().first(), hf.eos_ids().first(), "{name}: eos");
    }
}

#[test]
fn file_holds_llama_cpp_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("v3.gguf");
    write_gguf(&fixture("deepseek_v3"), GgmlType::F32, &out);
    let f = GgufFile::open(&out).unwrap();
    let meta = f.metadata();
    let u = |k: &str| {
        meta.get(&format!("deepseek2.{k}")).and_then(|v| v.as_u64()).unwrap_or_else(|| panic!("deepseek2.{k}"))
    };
    let fl = |k: &str| {
        meta.get(&format!("deepseek2.{k}")).and_then(|v| v.as_f64()).unwrap_or_else(|| panic!("deepseek2.{k}"))
    };
    assert_eq!(meta.get("general.architecture").unwrap().as_str(), Some("deepseek2"));
    // config.json: 3 layers, 1 dense, 4 heads, q_lora 32, kv_lora 16, nope 8, rope 4, v 8,
    // 8 experts (2 used, 1 shared, 16 wide), 4 groups (2 used), sigmoid, scale 2.5, norm.
    assert_eq!(u("block_count"), 3);
    assert_eq!(u("leading_dense_block_count"), 1);
    assert_eq!(u("attention.head_count"), 4);
    assert_eq!(u("attention.head_count_kv"), 1);
    assert_eq!(u("attention.q_lora_rank"), 32);
    assert_eq!(u("attention.kv_lora_rank"), 16);
    assert_eq!(u("attention.key_length"), 16 + 4);
    assert_eq!(u("attention.value_length"), 16);
    assert_eq!(u("attention.key_length_mla"), 8 + 4);
    assert_eq!(u("attention.value_length_mla"), 8);
    assert_eq!(u("rope.dimension_count"), 4);
    assert_eq!(u("expert_count"), 8);
    assert_eq!(u("expert_used_count"), 2);
    assert_eq!(u("expert_shared_count"), 1);
    assert_eq!(u("expert_feed_forward_length"), 16);
    assert_eq!(u("expert_group_count"), 4);
    assert_eq!(u("expert_group_used_count"), 2);
    assert_eq!(u("expert_gating_func"), 2);
    assert_eq!(fl("expert_weights_scale"), 2.5);
    assert_eq!(meta.get("deepseek2.expert_weights_norm").unwrap().as_bool(), Some(true));
    assert_eq!(meta.get("deepseek2.rope.scaling.type").unwrap().as_str(), Some("yarn"));
    assert_eq!(fl("rope.scaling.factor"), 4.0);
    assert_eq!(u("rope.scaling.original_context_length"), 32);
    assert!((fl("rope.scaling.yarn_log_multiplier") - 0.1).abs() < 1e-7);
    assert!(meta.get("deepseek2.nextn_predict_layers").is_none());
    let dims = |n: &str| f.tensor(n).unwrap_or_else(|| panic!("missing {n}")).dims.clone();
    // ggml order (row length first), as llama.cpp's loader asks for them.
    assert_eq!(dims("blk.1.attn_k_b.weight"), vec![8, 16, 4]);
    assert_eq!(dims("blk.1.attn_v_b.weight"), vec![16, 8, 4]);
    assert!(f.tensor("blk.1.attn_kv_b.weight").is_none());
    assert_eq!(dims("blk.1.ffn_gate_exps.weight"), vec![64, 16, 8]);
    assert_eq!(dims("blk.1.ffn_up_exps.weight"), vec![64, 16, 8]);
    assert_eq!(dims("blk.1.ffn_down_exps.weight"), vec![16, 64, 8]);
    assert_eq!(dims("blk.1.ffn_gate_shexp.weight"), vec![64, 16]);
    assert_eq!(dims("blk.1.ffn_gate_inp.weight"), vec![64, 8]);
    assert_eq!(dims("blk.1.exp_probs_b.bias"), vec![8]);
    assert_eq!(dims("blk.0.ffn_gate.weight"), vec![64, 96]);
    assert_eq!(dims("blk.0.attn_q_a.weight"), vec![64, 32]);
    assert_eq!(dims("blk.0.attn_q_a_norm.weight"), vec![32]);
    assert_eq!(dims("blk.0.attn_q_b.weight"), vec![32, 4 * 12]);
    assert_eq!(dims("blk.0.attn_kv_a_mqa.weight"), vec![64, 16 + 4]);
    assert_eq!(dims("blk.0.attn_kv_a_norm.weight"), vec![16]);
    assert_eq!(dims("blk.0.attn_output.weight"), vec![32, 64]);
    assert!(f.tensors().iter().all(|t| !t.name.contains("experts.")));

    // Q8_0 keeps the router f32 and falls back where rows are too short.
    let q8 = tmp.path().join("v3-q8.gguf");
    let report = write_gguf(&fixture("deepseek_v3"), GgmlType::Q8_0, &q8);
    let f = GgufFile::open(&q8).unwrap();
    assert_eq!(f.tensor("blk.1.ffn_gate_inp.weight").unwrap().dtype, GgmlType::F32);
    assert_eq!(f.tensor("blk.1.ffn_gate_exps.weight").unwrap().dtype, GgmlType::Q8_0);
    assert_eq!(
        f.tensor("blk.1.ffn_down_exps.weight").unwrap().dtype,
        GgmlType::F16,
        "16-wide rows are not whole Q8_0 blocks"
    );
    assert!(
        report.fallbacks.iter().any(|(t, _, used)| t == "blk.1.attn_k_b.weight" && used == "f16"),
        "{:?}",
        report.fallbacks
    );
}

#[test]
fn q8_0_gguf_runs_and_is_smaller() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["deepseek_v3", "deepseek_v2_lite"] {
        let (_, f32m) = to_gguf(name, GgmlType::F32, tmp.path());
        let (_, q8) = to_gguf(name, GgmlType::Q8_0, tmp.path());
        assert!(q8.storage_dtypes.contains_key("q8_0"), "{name}: {:?}", q8.storage_dtypes);
        assert!(
            q8.weight_bytes < f32m.weight_bytes / 2,
            "{name}: Q8_0 {} vs f32 {}",
            q8.weight_bytes,
            f32m.weight_bytes
        );
        let (worst, mean) = golden_diffs(&q8, name);
        eprintln!(
            "{name}: Q8_0 GGUF |Δ logprob| vs golden max {worst:.3e} mean {mean:.3e} ({} vs {} bytes)",
            q8.weight_bytes, f32m.weight_bytes
        );
        // Random tiny networks amplify weight noise (and a router's top-k can flip), so this
        // asks for "close", not "exact": finite, and far below the logprobs' own spread.
        assert!(worst.is_finite() && mean.is_finite());
        assert!(mean < 0.1 && worst < 1.0, "{name}: Q8_0 differs from golden by max {worst}, mean {mean}");
        let info = q8.model.info();
        assert_eq!(info.kv_cache_values_per_token_per_layer, 16 + if name == "deepseek_v3" { 4 } else { 8 });
    }
}

/// A GGUF read back and written again (GGUF -> GGUF) is the same model.
#[test]
fn gguf_to_gguf_keeps_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("a.gguf");
    let second = tmp.path().join("b.gguf");
    write_gguf(&fixture("deepseek_v3"), GgmlType::F32, &first);
    write_gguf(&first, GgmlType::F32, &second);
    let m = load_model(&second).unwrap();
    let worst = golden_diff(&m, "deepseek_v3");
    assert!(worst <= TOL, "GGUF -> GGUF differs from golden by {worst}");
    let (a, b) = (GgufFile::open(&first).unwrap(), GgufFile::open(&second).unwrap());
    let names = |f: &GgufFile| f.tensors().iter().map(|t| (t.name.clone(), t.dims.clone())).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
}

/// transformers' `rope_interleave: false` (rotate-half rope): the writer reorders the rope rows
/// so the interleaved GGUF computes the same function.
#[test]
fn rotate_half_checkpoint_is_reordered_to_interleaved() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("half");
    std::fs::create_dir(&dir).unwrap();
    for f in std::fs::read_dir(fixture("deepseek_v3")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
    }
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    cfg["rope_interleave"] = Value::Bool(false);
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let hf = load_model(&dir).unwrap();
    let out = tmp.path().join("half.gguf");
    write_gguf(&dir, GgmlType::F32, &out);
    let m = load_model(&out).unwrap();
    let interleaved = load_model(&fixture("deepseek_v3")).unwrap();
    let mut worst = 0f32;
    let mut apart = 0f32;
    for case in golden("deepseek_v3")["cases"].as_array().unwrap() {
        let ids = ids(&case["ids"]);
        let want = token_logprobs(hf.model.as_ref(), &ids).unwrap();
        let got = token_logprobs(m.model.as_ref(), &ids).unwrap();
        let other = token_logprobs(interleaved.model.as_ref(), &ids).unwrap();
        worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
        apart = other.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(apart, f32::max);
    }
    assert!(apart > 1e-3, "the two rope layouts should give different models here ({apart})");
    assert!(worst <= TOL, "rotate-half checkpoint through GGUF differs by {worst}");
}

/// MTP blocks are written as llama.cpp's `blk.N.nextn.*` after the main blocks and read back
/// as the MTP module, which still matches its golden.
#[test]
fn mtp_module_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mtp.gguf");
    write_gguf(&fixture("deepseek_v3_mtp"), GgmlType::F32, &out);
    let f = GgufFile::open(&out).unwrap();
    let meta = f.metadata();
    assert_eq!(meta.get("deepseek2.block_count").unwrap().as_u64(), Some(4));
    assert_eq!(meta.get("deepseek2.nextn_predict_layers").unwrap().as_u64(), Some(1));
    for t in ["eh_proj", "enorm", "hnorm", "embed_tokens", "shared_head_head", "shared_head_norm"] {
        assert!(f.tensor(&format!("blk.3.nextn.{t}.weight")).is_some(), "blk.3.nextn.{t}.weight");
    }
    assert!(f.tensor("blk.3.ffn_gate_exps.weight").is_some());
    let m = load_model(&out).unwrap();
    assert_eq!(m.model.info().layers, 3);
    assert!(golden_diff(&m, "deepseek_v3_mtp") <= TOL);

    let model = open_gguf_deepseek(&out);
    assert_eq!(model.mtp_depth(), 1);
    let mut worst = 0f32;
    for case in golden("deepseek_v3_mtp")["cases"].as_array().unwrap() {
        let ids = ids(&case["ids"]);
        let n = ids.len();
        let mut seqs = [SeqInput { tokens: &ids, cache: None }];
        let (_, hidden) = model.forward_with_hidden(&mut seqs, LogitsFor::All, LogitsFor::All).unwrap();
        let h: Tensor = hidden[0].narrow(0, 0, n - 1).unwrap();
        let mut inputs = [MtpInput { hidden: &h, next_tokens: &ids[1..], cache: None }];
        let out = model.mtp_forward(0, &mut inputs, LogitsFor::All).unwrap().remove(0);
        let lp = log_softmax_last_dim(&out.logits).unwrap().to_vec2::<f32>().unwrap();
        let got: Vec<f32> = ids[2..].iter().enumerate().map(|(j, &t)| lp[j][t as usize]).collect();
        let want = floats(&case["mtp_logprobs"]);
        worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
    }
    eprintln!("deepseek_v3_mtp: MTP logprobs through GGUF max |Δ| = {worst:.3e}");
    assert!(worst <= TOL, "MTP through GGUF differs from golden by {worst}");
}

/// The Q8_0 file's packed experts (byte ranges of the stacked tensors) compute what the same
/// weights dequantized to f32 compute.
#[test]
fn packed_expert_slices_match_their_dequantized_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let q8 = tmp.path().join("q8.gguf");
    let deq = tmp.path().join("q8-as-f32.gguf");
    write_gguf(&fixture("deepseek_v3"), GgmlType::Q8_0, &q8);
    write_gguf(&q8, GgmlType::F32, &deq);
    let (a, b) = (load_model(&q8).unwrap(), load_model(&deq).unwrap());
    let mut worst = 0f32;
    for case in golden("deepseek_v3")["cases"].as_array().unwrap() {
        let ids = ids(&case["ids"]);
        let (x, y) = (token_logprobs(a.model.as_ref(), &ids).unwrap(), token_logprobs(b.model.as_ref(), &ids).unwrap());
        worst = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(worst, f32::max);
    }
    eprintln!("deepseek_v3: Q8_0 packed vs dequantized f32 max |Δ logprob| = {worst:.3e}");
    assert!(worst < 0.05, "packed Q8_0 and its dequantized f32 differ by {worst}");
}

/// Files from llama.cpp's converter before the MLA split (early 2025: one `attn_kv_b`, per-head
/// sizes in key_length / value_length, no `_mla` keys) still read as the same model.
#[test]
fn legacy_unsplit_kv_b_files_read() {
    use reasoner_model::formats::gguf::names::join_kv_b;
    use reasoner_model::formats::gguf::{GgufWriter, MetaValue};
    let tmp = tempfile::tempdir().unwrap();
    let new = tmp.path().join("new.gguf");
    let old = tmp.path().join("old.gguf");
    write_gguf(&fixture("deepseek_v3"), GgmlType::F32, &new);
    let f = GgufFile::open(&new).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata().iter() {
        if !k.ends_with("_mla") && k != "general.alignment" {
            w.set(k, v.clone());
        }
    }
    w.set("deepseek2.attention.key_length", MetaValue::U32(8 + 4));
    w.set("deepseek2.attention.value_length", MetaValue::U32(8));
    let f32s = |name: &str| -> Vec<f32> {
        f.tensor_data(name).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    for t in f.tensors() {
        if let Some(layer) = t.name.strip_suffix(".attn_k_b.weight") {
            let kv_b = join_kv_b(&f32s(&t.name), &f32s(&format!("{layer}.attn_v_b.weight")), 4, 8, 8, 16);
            let bytes: Vec<u8> = kv_b.iter().flat_map(|x| x.to_le_bytes()).collect();
            w.add_tensor_bytes(format!("{layer}.attn_kv_b.weight"), &[16, 4 * 16], GgmlType::F32, bytes).unwrap();
        } else if !t.name.ends_with(".attn_v_b.weight") {
            w.add_tensor_bytes(t.name.clone(), &t.dims, t.dtype, f.data_of(t).to_vec()).unwrap();
        }
    }
    w.write(&old).unwrap();
    let m = load_model(&old).unwrap();
    let worst = golden_diff(&m, "deepseek_v3");
    assert!(worst <= TOL, "legacy attn_kv_b file differs from golden by {worst}");
    // Re-quantizing it writes today's split layout.
    let again = tmp.path().join("again.gguf");
    write_gguf(&old, GgmlType::F32, &again);
    let g = GgufFile::open(&again).unwrap();
    assert!(g.tensor("blk.0.attn_k_b.weight").is_some() && g.tensor("blk.0.attn_kv_b.weight").is_none());
    assert_eq!(g.metadata().get("deepseek2.attention.key_length_mla").and_then(|v| v.as_u64()), Some(12));
    assert_eq!(g.metadata().get("deepseek2.attention.key_length").and_then(|v| v.as_u64()), Some(20));
    assert!(golden_diff(&load_model(&again).unwrap(), "deepseek_v3") <= TOL);
}
