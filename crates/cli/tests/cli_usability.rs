//! The command line's manners, through the binary: model names (`-m`, `$REASONER_MODEL`, repo ids
//! from a Hugging Face cache folder), tokenize/detokenize against `logprobs`, the finish reason
//! and the context window, honest defaults in `--help`, flags only where they act, completions
//! and `--version`.

use reasoner_testutil::fixture;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reasoner"));
    cmd.args(args).env_remove("REASONER_MODEL").env_remove("HF_HOME").env_remove("HF_HUB_CACHE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run reasoner")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("one JSON object")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A Hugging Face cache holding `org/tiny` as the hub lays it out (blobs linked from a snapshot).
fn hub_with_tiny(root: &Path) -> PathBuf {
    let hub = root.join("hub");
    let repo = hub.join("models--org--tiny");
    let snap = repo.join("snapshots").join("0123456789abcdef0123456789abcdef01234567");
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123456789abcdef0123456789abcdef01234567").unwrap();
    for e in std::fs::read_dir(fixture("qwen2_f32")).unwrap() {
        let p = e.unwrap().path();
        let blob = repo.join("blobs").join(p.file_name().unwrap());
        std::fs::copy(&p, &blob).unwrap();
        std::os::unix::fs::symlink(
            Path::new("../../blobs").join(p.file_name().unwrap()),
            snap.join(p.file_name().unwrap()),
        )
        .unwrap();
    }
    hub
}

#[test]
fn model_from_short_flag_env_and_hf_cache() {
    let ids = ["logprobs", "--ids", "1,2,3"];
    let reference = json(&run(&[ids[0], ids[1], ids[2], "--model", s(&fixture("qwen2_f32"))], &[]));
    let short = json(&run(&[ids[0], ids[1], ids[2], "-m", s(&fixture("qwen2_f32"))], &[]));
    assert_eq!(short["logprobs"], reference["logprobs"]);
    let env = json(&run(&ids, &[("REASONER_MODEL", s(&fixture("qwen2_f32")))]));
    assert_eq!(env["logprobs"], reference["logprobs"]);

    let root = tempfile::tempdir().unwrap();
    let hub = hub_with_tiny(root.path());
    let by_id = json(&run(&[ids[0], ids[1], ids[2], "-m", "org/tiny"], &[("HF_HUB_CACHE", s(&hub))]));
    assert_eq!(by_id["logprobs"], reference["logprobs"]);
    // HF_HOME/hub is the default place when HF_HUB_CACHE is unset.
    let by_home = json(&run(&[ids[0], ids[1], ids[2], "-m", "org/tiny"], &[("HF_HOME", s(root.path()))]));
    assert_eq!(by_home["logprobs"], reference["logprobs"]);

    let missing =
        run(&[ids[0], ids[1], ids[2], "-m", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"], &[("HF_HUB_CACHE", s(&hub))]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains("models--deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B") && err.contains("reasoner pull"),
        "{err}"
    );
    // No --model and no REASONER_MODEL: the embedded tiny-r1 scores the ids.
    let none = json(&run(&ids, &[]));
    assert_eq!(none["logprobs"].as_array().map(Vec::len), Some(2), "{none}");
}

#[test]
fn tokenize_gives_the_ids_logprobs_scores_and_detokenize_inverts_it() {
    let m = fixture("qwen2_f32");
    let text = "What is 2+3? -5";
    let t = json(&run(&["tokenize", "-m", s(&m), "--text", text, "--json"], &[]));
    let lp = json(&run(&["logprobs", "-m", s(&m), "--text", text], &[]));
    assert_eq!(t["ids"], lp["tokens"]);
    assert_eq!(t["tokens"], lp["token_text"]);
    // The golden tokenization (transformers) of this fixture's first text case.
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(m.join("golden.json")).unwrap()).unwrap();
    let case = golden["cases"].as_array().unwrap().iter().find(|c| c.get("text").is_some()).unwrap();
    let g = json(&run(&["tokenize", "-m", s(&m), "--text", case["text"].as_str().unwrap(), "--json"], &[]));
    assert_eq!(g["ids"], case["ids"]);

    let ids: Vec<String> = t["ids"].as_array().unwrap().iter().map(|x| x.to_string()).collect();
    let back = ok(&run(&["detokenize", "-m", s(&m), "--ids", &ids.join(",")], &[]));
    assert_eq!(back.trim_end_matches('\n'), text);
    let strings: Vec<&str> = t["tokens"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert_eq!(strings.concat(), text);

    // Sum and perplexity follow from the log-probabilities printed beside them.
    let lps: Vec<f64> = lp["logprobs"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    let sum: f64 = lps.iter().sum();
    assert!((lp["sum_logprob"].as_f64().unwrap() - sum).abs() < 1e-4);
    assert!(
        (lp["perplexity"].as_f64().unwrap() - (-sum / lps.len() as f64).exp()).abs()
            < 1e-3 * lp["perplexity"].as_f64().unwrap()
    );
}

#[test]
fn finish_reason_and_context_window() {
    let m = fixture("qwen2_f32"); // max_position_embeddings 256
    let g = |extra: &[&str]| {
        let mut args = vec!["generate", "-m", s(&m), "-p", "hi", "--json", "--seed", "3"];
        args.extend_from_slice(extra);
        json(&run(&args, &[]))
    };
    let v = g(&["--ignore-eos", "--max-tokens", "100000"]);
    assert_eq!(v["finish_reason"], "length");
    assert_eq!(v["usage"]["total_tokens"], 256, "prompt + reply fill the window exactly: {}", v["usage"]);
    let v = g(&["--max-tokens", "3", "--ignore-eos"]);
    assert_eq!((v["finish_reason"].as_str(), v["usage"]["completion_tokens"].as_u64()), (Some("length"), Some(3)));
    assert_eq!(v["seed"], 3);

    let long = "word ".repeat(400);
    let out = run(&["generate", "-m", s(&m), "-p", &long], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("context window") && err.contains("256"), "{err}");

    // Text mode says why it stopped, on stderr.
    let out = run(&["generate", "-m", s(&m), "-p", "hi", "--max-tokens", "2", "--ignore-eos"], &[]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("finish: length (--max-tokens 2)"));
}

#[test]
fn seeds_are_random_unless_given() {
    let m = fixture("llama_f32");
    let g = |extra: &[&str]| {
        let mut args = vec!["generate", "-m", s(&m), "-p", "hi", "--json", "--max-tokens", "16", "--ignore-eos"];
        args.extend_from_slice(extra);
        json(&run(&args, &[]))
    };
    let (a, b) = (g(&[]), g(&[]));
    assert_ne!(a["seed"], b["seed"]);
    // The printed seed repeats the run.
    let seed = a["seed"].to_string();
    assert_eq!(g(&["--seed", &seed])["token_ids"], a["token_ids"]);
}

#[test]
fn help_shows_defaults_and_flags_only_where_they_act() {
    let help = ok(&run(&["generate", "--help"], &[]));
    for needle in ["[default: random", "32768", "generation_config.json", "--threads", "--ignore-eos", "REASONER_MODEL"]
    {
        assert!(help.contains(needle), "generate --help lacks {needle}:\n{help}");
    }
    let grade = ok(&run(&["grade", "--help"], &[]));
    assert!(!grade.contains("--threads") && !grade.contains("--dequant-prefill"), "{grade}");
    let out = run(&["grade", "--threads", "2", "--gold", "1", "--response", "1"], &[]);
    assert_eq!(out.status.code(), Some(2), "grade refuses a flag it would ignore");
    let info = ok(&run(&["info", "-m", s(&fixture("qwen2_f32"))], &[]));
    assert!(info.contains("parameters        100.9 K (100928)"), "{info}");
}

#[test]
fn completions_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&run(&["completions", shell], &[]));
        assert!(script.contains("tokenize") && script.contains("--max-tokens"), "{shell}");
    }
    let v = ok(&run(&["--version"], &[]));
    assert!(v.starts_with(&format!("reasoner {} (commit ", env!("CARGO_PKG_VERSION"))), "{v}");
    assert!(v.contains("CPU features for the kernels:"), "{v}");
}

/// Sizes no run could finish are refused before anything is allocated, naming the flag; a file
/// with no line ends (/dev/zero) is refused instead of read into memory.
#[test]
fn absurd_sizes_and_endless_files_are_refused_at_once() {
    let m = fixture("qwen2_f32");
    let m = s(&m);
    let long_ids = vec!["5"; 5000].join(",");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["eval", "-m", m, "--task", "add", "--n", "1000000000000"], "--n 1000000000000"),
        (vec!["eval", "-m", m, "--task", "add", "--n", "2", "--samples", "100000000"], "--samples 100000000"),
        (vec!["bench", "-m", m, "--gen-tokens", "1000000000000"], "context window"),
        (vec!["bench", "-m", m, "--prompt-tokens", "1000000000000"], "--prompt-tokens"),
        (vec!["bench", "-m", m, "--repeats", "1000000000"], "--repeats"),
        (vec!["logprobs", "-m", m, "--ids", &long_ids], "context window"),
        (vec!["eval", "-m", m, "--data", "/dev/zero"], "line longer than"),
    ];
    for (args, expect) in cases {
        let t = std::time::Instant::now();
        let out = run(&args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: a clean error exit, got {:?}: {err}", out.status);
        assert!(err.contains(expect), "{args:?}: expected `{expect}` in: {err}");
        assert!(t.elapsed().as_secs() < 20, "{args:?}: took {:?}", t.elapsed());
    }
}

/// `serve` on a model with no tokenizer is refused at start, naming the file, instead of serving
/// 500s to every request.
#[test]
fn serve_refuses_a_model_without_a_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("qwen2_f32");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let out = run(&["serve", "-m", s(dir.path()), "--addr", "127.0.0.1:0"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("has no tokenizer.json"), "{err}");
}
