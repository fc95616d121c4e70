//! The binary as a user runs it: `logprobs` against transformers' golden values (ids and text),
//! `info`, `generate`, piped `chat`, and bad input that must fail with a clear message, never a panic.

use reasoner_testutil::fixture;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn reasoner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reasoner")).args(args).output().expect("run reasoner")
}

fn golden(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("golden.json")).unwrap()).unwrap()
}

fn stdout_json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn max_diff(a: &Value, b: &Value) -> f64 {
    let (a, b) = (a.as_array().unwrap(), b.as_array().unwrap());
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()).fold(0.0, f64::max)
}

#[test]
fn logprobs_binary_matches_golden_for_ids_and_text() {
    for name in ["qwen2_f32", "llama_bf16", "qwen3_f32"] {
        let g = golden(name);
        let dir = fixture(name);
        for case in g["cases"].as_array().unwrap() {
            let out = match case.get("text").and_then(|t| t.as_str()) {
                Some(text) => reasoner(&["logprobs", "--model", dir.to_str().unwrap(), "--text", text]),
                None => {
                    let ids: Vec<String> = case["ids"].as_array().unwrap().iter().map(|x| x.to_string()).collect();
                    reasoner(&["logprobs", "--model", dir.to_str().unwrap(), "--ids", &ids.join(",")])
                }
            };
            let v = stdout_json(&out);
            assert_eq!(v["tokens"], case["ids"], "{name}");
            let d = max_diff(&v["logprobs"], &case["logprobs"]);
            assert!(d <= 1e-4, "{name}: max abs diff {d}");
        }
    }
}

#[test]
fn info_reports_architecture_and_cache_size() {
    let v = stdout_json(&reasoner(&["info", "--model", fixture("llama_f32").to_str().unwrap(), "--json"]));
    assert_eq!(v["architecture"], "LlamaForCausalLM");
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("llama_f32").join("config.json")).unwrap()).unwrap();
    let head_dim = cfg["hidden_size"].as_u64().unwrap() / cfg["num_attention_heads"].as_u64().unwrap();
    let per_layer = 2 * cfg["num_key_value_heads"].as_u64().unwrap() * head_dim;
    assert_eq!(v["kv_cache_values_per_token_per_layer"].as_u64().unwrap(), per_layer);
    assert_eq!(
        v["kv_cache_bytes_per_token"].as_u64().unwrap(),
        per_layer * 4 * cfg["num_hidden_layers"].as_u64().unwrap()
    );
}

#[test]
fn generate_is_reproducible_with_a_seed_and_respects_max_tokens() {
    let dir = fixture("qwen2_bf16_sharded");
    let run = |seed: &str| {
        stdout_json(&reasoner(&[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "What is 2+3?",
            "--json",
            "--temperature",
            "1.0",
            "--seed",
            seed,
            "--max-tokens",
            "12",
        ]))
    };
    let (a, b, c) = (run("1"), run("1"), run("2"));
    assert_eq!(a["token_ids"], b["token_ids"]);
    assert_ne!(a["token_ids"], c["token_ids"]);
    assert!(a["usage"]["completion_tokens"].as_u64().unwrap() <= 12);
    // The R1-Distill template opens <think> in the prompt, so what the model writes first is reasoning.
    if a["finish_reason"] == "length" {
        assert_eq!(a["usage"]["completion_tokens"], 12);
    }
}

#[test]
fn chat_reads_piped_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reasoner"))
        .args(["chat", "--model", fixture("qwen2_f32").to_str().unwrap(), "--max-tokens", "6", "--temperature", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"What is 2+3?\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!out.stdout.is_empty());
}

/// Copy a fixture to a temp dir so a test can break one file.
fn broken_copy(name: &str, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    edit(tmp.path());
    tmp
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut Value)) {
    let p = dir.join("config.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

fn assert_clean_failure(out: &Output, must_mention: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success");
    assert!(!err.contains("panicked"), "panic: {err}");
    for m in must_mention {
        assert!(err.contains(m), "stderr should mention {m:?}: {err}");
    }
}

#[test]
fn bad_input_fails_cleanly_and_names_the_culprit() {
    let ids = ["logprobs", "--ids", "1,2,3", "--model"];
    let run = |dir: &Path| reasoner(&[ids[0], ids[1], ids[2], ids[3], dir.to_str().unwrap()]);

    assert_clean_failure(&run(Path::new("/nonexistent/model")), &["/nonexistent/model"]);

    let d =
        broken_copy("qwen2_f32", |d| edit_config(d, |v| v["architectures"] = serde_json::json!(["GPT7ForCausalLM"])));
    assert_clean_failure(&run(d.path()), &["GPT7ForCausalLM", "config.json", "Qwen2ForCausalLM"]);

    let d = broken_copy("qwen2_f32", |d| {
        edit_config(d, |v| {
            v.as_object_mut().unwrap().remove("hidden_size");
        })
    });
    assert_clean_failure(&run(d.path()), &["hidden_size", "config.json"]);

    let d = broken_copy("qwen2_f32", |d| edit_config(d, |v| v["intermediate_size"] = serde_json::json!(7)));
    assert_clean_failure(&run(d.path()), &["mlp.gate_proj.weight", "shape"]);

    let d = broken_copy("qwen2_f32", |d| {
        let p = d.join("model.safetensors");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert_clean_failure(&run(d.path()), &["model.safetensors"]);

    let d = broken_copy("qwen2_f32", |d| {
        let p = d.join("model.safetensors");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[8..40].copy_from_slice(&[b'#'; 32]);
        std::fs::write(&p, bytes).unwrap();
    });
    assert_clean_failure(&run(d.path()), &["model.safetensors"]);

    let d = broken_copy("qwen2_f32", |d| {
        let p = d.join("tokenizer_config.json");
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["chat_template"] = serde_json::json!("{% for m in messages %}{{ m.content }");
        std::fs::write(&p, v.to_string()).unwrap();
    });
    assert_clean_failure(&run(d.path()), &["tokenizer_config.json", "template"]);

    let big = reasoner(&["logprobs", "--model", fixture("qwen2_f32").to_str().unwrap(), "--ids", "1,999999"]);
    assert_clean_failure(&big, &["999999", "out of range"]);

    let junk = reasoner(&["logprobs", "--model", fixture("qwen2_f32").to_str().unwrap(), "--ids", "1,x"]);
    assert_clean_failure(&junk, &["--ids", "`x`"]);

    let bad_flag =
        reasoner(&["generate", "--model", fixture("qwen2_f32").to_str().unwrap(), "--prompt", "hi", "--top-p", "0"]);
    assert_clean_failure(&bad_flag, &["--top-p"]);

    // A GGUF cut short, and one whose header claims an absurd tensor count.
    let tmp = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("gguf_llamacpp/qwen2_f32.q8_0.gguf")).unwrap();
    let cut = tmp.path().join("cut.gguf");
    std::fs::write(&cut, &good[..good.len() / 2]).unwrap();
    assert_clean_failure(&run(&cut), &["cut.gguf", "past the end"]);
    let huge = tmp.path().join("huge.gguf");
    let mut bytes = b"GGUF\x03\x00\x00\x00".to_vec();
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    std::fs::write(&huge, bytes).unwrap();
    assert_clean_failure(&run(&huge), &["huge.gguf", "tensor count"]);

    // With no --model the embedded tiny-r1 answers; a default that names nothing is refused by name.
    let no_model = Command::new(env!("CARGO_BIN_EXE_reasoner"))
        .args(["chat"])
        .env("REASONER_MODEL", "/no/such/model")
        .output()
        .unwrap();
    assert_clean_failure(&no_model, &["REASONER_MODEL", "/no/such/model"]);
}

#[test]
fn bench_reports_the_design_keys_and_speculative_figures() {
    let v = stdout_json(&reasoner(&[
        "bench",
        "--model",
        fixture("deepseek_v3_mtp").to_str().unwrap(),
        "--prompt-tokens",
        "8",
        "--gen-tokens",
        "8",
        "--speculative",
        "--no-roofline",
        "--json",
    ]));
    for key in
        ["prompt_tokens", "gen_tokens", "prefill_tok_s", "decode_tok_s", "weights_bytes", "peak_rss_bytes", "threads"]
    {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    let rate = v["spec_acceptance_rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate));
    assert!(v["spec_speedup"].as_f64().unwrap() > 0.0);
    let no_mtp =
        reasoner(&["bench", "--model", fixture("qwen2_f32").to_str().unwrap(), "--speculative", "--no-roofline"]);
    assert_clean_failure(&no_mtp, &["--speculative", "MTP"]);
}

#[test]
fn bench_judges_decode_against_the_bandwidth_read_beside_it() {
    // 20 tokens: stretches of 8, 8 and 4 with a bandwidth reading between each.
    let v = stdout_json(&reasoner(&[
        "bench",
        "--model",
        fixture("qwen2_f32").to_str().unwrap(),
        "--prompt-tokens",
        "8",
        "--gen-tokens",
        "20",
        "--json",
    ]));
    let f = |key: &str| v[key].as_f64().unwrap_or_else(|| panic!("missing {key}: {v}"));
    let (lo, hi) = (
        v["read_bandwidth_range_bytes_s"][0].as_f64().unwrap(),
        v["read_bandwidth_range_bytes_s"][1].as_f64().unwrap(),
    );
    let bandwidth = f("read_bandwidth_bytes_s");
    // The mean is weighted by decode time over stretches each judged at a reading beside it.
    assert!(1e8 < lo && lo <= bandwidth && bandwidth <= hi, "bandwidth {bandwidth} outside its readings {lo}..{hi}");
    // Relative 1e-12, not equality: serde_json's default float parser may read a printed f64
    // back one ulp off (it is not the `float_roundtrip` parser), which failed this once in CI.
    let ceiling = bandwidth / f("decode_bytes_per_token");
    assert!((f("decode_ceiling_tok_s") / ceiling - 1.0).abs() < 1e-12, "{v}");
    let fraction = f("roofline_decode_tok_s") / f("decode_ceiling_tok_s");
    assert!((f("decode_fraction_of_ceiling") / fraction - 1.0).abs() < 1e-9, "{v}");
}

/// The weight bytes `bench` sets against the bandwidth (decode bytes less the KV cache's) are
/// every tensor of an f32 checkpoint with tied embeddings (the table read as the output head),
/// counted from the safetensors header; `info --json` describes the model and leaves them out.
#[test]
fn bench_counts_the_weights_a_decode_step_reads() {
    let dir = fixture("qwen2_f32");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let config: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["tie_word_embeddings"], true);
    let tensor_bytes: u64 = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| *name != "__metadata__")
        .map(|(_, t)| {
            assert_eq!(t["dtype"], "F32");
            t["data_offsets"][1].as_u64().unwrap() - t["data_offsets"][0].as_u64().unwrap()
        })
        .sum();
    let v = stdout_json(&reasoner(&[
        "bench",
        "--model",
        dir.to_str().unwrap(),
        "--prompt-tokens",
        "8",
        "--gen-tokens",
        "8",
        "--json",
    ]));
    let u = |key: &str| v[key].as_u64().unwrap_or_else(|| panic!("missing {key}: {v}"));
    assert_eq!(u("decode_bytes_per_token") - u("decode_kv_bytes_per_token"), tensor_bytes, "{v}");
    let info = stdout_json(&reasoner(&["info", "--model", dir.to_str().unwrap(), "--json"]));
    assert!(info.get("decode_weight_bytes_per_token").is_none(), "{info}");
}

#[test]
fn kv_cache_flag_sets_the_cache_dtype_and_its_bytes() {
    let model = fixture("qwen2_f32");
    let bench = |extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--model",
            model.to_str().unwrap(),
            "--prompt-tokens",
            "8",
            "--gen-tokens",
            "8",
            "--no-roofline",
            "--json",
        ];
        args.extend_from_slice(extra);
        stdout_json(&reasoner(&args))
    };
    let (default, f32, f16) = (bench(&[]), bench(&["--kv-cache", "f32"]), bench(&["--kv-cache", "f16"]));
    assert_eq!(default["kv_cache_dtype"], "f16", "the CLI's default cache is f16: {default}");
    assert_eq!(f32["kv_cache_dtype"], "f32");
    assert_eq!(f16["kv_cache_dtype"], "f16");
    let bytes = |v: &serde_json::Value| v["kv_cache_bytes"].as_u64().unwrap();
    assert!(bytes(&f16) > 0 && bytes(&f32) == 2 * bytes(&f16), "f32 {} vs f16 {} bytes", bytes(&f32), bytes(&f16));
    assert_clean_failure(
        &reasoner(&["bench", "--model", model.to_str().unwrap(), "--kv-cache", "q4"]),
        &["--kv-cache", "q4"],
    );
}

#[test]
fn quantize_writes_a_gguf_that_loads_and_lists_fallbacks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m.gguf");
    let q = reasoner(&[
        "quantize",
        "--model",
        fixture("qwen2_f32").to_str().unwrap(),
        "--to",
        "q4_k",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    // Rows of 64 are not whole 256-value Q4_K blocks: every matrix falls back, the summary says
    // so in one line, and the table lists the types in the file.
    let (text, err) = (String::from_utf8_lossy(&q.stdout), String::from_utf8_lossy(&q.stderr));
    assert!(
        err.contains("fallbacks (rows not whole blocks): ") && err.contains("q4_K → q5_0") && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        text.contains("no tensor is stored as q4_K") && text.contains("  q5_0 ") && text.contains("  f32 "),
        "{text}"
    );
    let verbose = reasoner(&[
        "quantize",
        "--model",
        fixture("qwen2_f32").to_str().unwrap(),
        "--to",
        "q4_k",
        "--out",
        out.to_str().unwrap(),
        "--verbose",
    ]);
    let err = String::from_utf8_lossy(&verbose.stderr);
    assert!(err.contains("fallback: blk.0.attn_q.weight") && err.contains("q5_0"), "{err}");
    // The output is quantized now: quantizing it again needs --allow-requantize.
    let again = tmp.path().join("again.gguf");
    let re =
        reasoner(&["quantize", "--model", out.to_str().unwrap(), "--to", "q8_0", "--out", again.to_str().unwrap()]);
    assert_clean_failure(&re, &["already quantized", "--allow-requantize"]);
    let re = reasoner(&[
        "quantize",
        "--model",
        out.to_str().unwrap(),
        "--to",
        "q8_0",
        "--out",
        again.to_str().unwrap(),
        "--allow-requantize",
    ]);
    assert!(re.status.success(), "{}", String::from_utf8_lossy(&re.stderr));
    let nowhere = tmp.path().join("no/such/dir/m.gguf");
    let bad_out = reasoner(&[
        "quantize",
        "--model",
        fixture("qwen2_f32").to_str().unwrap(),
        "--to",
        "q8_0",
        "--out",
        nowhere.to_str().unwrap(),
    ]);
    assert_clean_failure(&bad_out, &["--out", "does not exist"]);
    assert_eq!(String::from_utf8_lossy(&bad_out.stderr).matches("m.gguf").count(), 1, "the path once");
    let info = stdout_json(&reasoner(&["info", "--model", out.to_str().unwrap(), "--json"]));
    assert_eq!(info["architecture"], "Qwen2ForCausalLM");
    assert!(info["storage_dtypes"]["q5_0"].as_u64().unwrap() > 0);
    let lp = stdout_json(&reasoner(&["logprobs", "--model", out.to_str().unwrap(), "--text", "What is 2+3?"]));
    assert!(lp["logprobs"].as_array().unwrap().iter().all(|x| x.as_f64().unwrap().is_finite()));
    let bad = reasoner(&[
        "quantize",
        "--model",
        fixture("qwen2_f32").to_str().unwrap(),
        "--to",
        "q3_x",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("q3_x"));
}

#[test]
fn quantize_writes_gpt2_style_tokenizers_and_refuses_what_llama_cpp_cannot_hold() {
    // qwen2_f32 with GPT-2's own pre-tokenizer: a plain ByteLevel with its built-in regex.
    let gpt2 = broken_copy("qwen2_f32", |d| {
        let p = d.join("tokenizer.json");
        let mut t: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        t["normalizer"] = Value::Null;
        t["pre_tokenizer"] = serde_json::json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
        std::fs::write(&p, t.to_string()).unwrap();
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gpt2.gguf");
    let q = reasoner(&["quantize", "-m", gpt2.path().to_str().unwrap(), "--to", "f32", "--out", out.to_str().unwrap()]);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    // The HF directory tokenizes through the tokenizers crate (the reference); the GGUF file
    // through the pipeline rebuilt from `tokenizer.ggml.pre = gpt2`: same ids, same scores.
    let text = "Hello world's 12345 ids,  spaces\tand\nlines!";
    let hf = stdout_json(&reasoner(&["logprobs", "-m", gpt2.path().to_str().unwrap(), "--text", text]));
    let gg = stdout_json(&reasoner(&["logprobs", "-m", out.to_str().unwrap(), "--text", text]));
    assert_eq!(hf["tokens"], gg["tokens"]);
    assert!(max_diff(&hf["logprobs"], &gg["logprobs"]) < 1e-4);
    // A prefix space is beyond llama.cpp's gpt2 type: refused, with what to do instead.
    let prefixed = broken_copy("qwen2_f32", |d| {
        let p = d.join("tokenizer.json");
        let mut t: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        t["pre_tokenizer"] =
            serde_json::json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
        std::fs::write(&p, t.to_string()).unwrap();
    });
    let bad = reasoner(&[
        "quantize",
        "-m",
        prefixed.path().to_str().unwrap(),
        "--to",
        "f32",
        "--out",
        tmp.path().join("x.gguf").to_str().unwrap(),
    ]);
    assert_clean_failure(&bad, &["pre_tokenizer", "convert_hf_to_gguf.py"]);
}
