//! tiny-r1 is compiled into the binary: with no --model and no $REASONER_MODEL, `chat`,
//! `generate` and `info` use it from any directory, writing it once to the user's cache.

use std::io::Write;
use std::process::{Command, Stdio};

fn reasoner(dir: &std::path::Path, cache: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reasoner"));
    c.current_dir(dir).env_remove("REASONER_MODEL").env("XDG_CACHE_HOME", cache);
    c
}

#[test]
fn chat_and_generate_run_the_embedded_model_from_any_directory() {
    let repo_model =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-r1/model.safetensors");
    assert!(repo_model.exists(), "models/tiny-r1 is missing: the binary would have no default model");
    let (elsewhere, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let info = reasoner(elsewhere.path(), cache.path()).args(["info", "--json"]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(json.to_string().contains("Qwen2ForCausalLM"), "{json}");
    // Written once into the cache, byte for byte the repository's model.
    let written: Vec<_> = std::fs::read_dir(cache.path().join("reasoner")).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(written.len(), 1, "one model directory in the cache");
    assert_eq!(
        std::fs::read(written[0].path().join("model.safetensors")).unwrap(),
        std::fs::read(&repo_model).unwrap()
    );

    // Piped chat: the thinking is printed between <think> tags, then a boxed answer.
    let mut child = reasoner(elsewhere.path(), cache.path())
        .args(["chat", "--seed", "1", "--max-tokens", "300"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"What is 347 + 589?\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("<think>") && text.contains("</think>"), "thinking not shown: {text}");
    assert!(text.contains("\\boxed{"), "no boxed answer: {text}");
    // --model still overrides the embedded model.
    let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/qwen3_f32");
    let info = reasoner(elsewhere.path(), cache.path())
        .args(["info", "--json", "-m", fixture.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("Qwen3ForCausalLM"));
}

/// `--thinking-budget N`: the thinking stops after N tokens and the model is made to answer;
/// without it the same seed thinks longer.
#[test]
fn thinking_budget_cuts_the_thinking_in_generate_and_chat() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let generate = |extra: &[&str]| -> serde_json::Value {
        let mut args =
            vec!["generate", "--prompt", "What is 347 + 589?", "--seed", "3", "--max-tokens", "200", "--json"];
        args.extend_from_slice(extra);
        let out = reasoner(dir.path(), cache.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let free = generate(&[]);
    let cut = generate(&["--thinking-budget", "4"]);
    let thought = |v: &serde_json::Value| v["usage"]["completion_tokens_details"]["reasoning_tokens"].as_u64().unwrap();
    assert!(thought(&free) > 10, "without a budget tiny-r1 thinks for more than 10 tokens: {free}");
    assert!(thought(&cut) <= 4, "budget 4, thought {}: {cut}", thought(&cut));
    assert!(!cut["content"].as_str().unwrap().is_empty(), "after the budget the model answers: {cut}");

    let mut child = reasoner(dir.path(), cache.path())
        .args(["chat", "--seed", "3", "--max-tokens", "200", "--thinking-budget", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"What is 347 + 589?\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let thinking = text
        .split("<think>")
        .nth(1)
        .and_then(|t| t.split("</think>").next())
        .unwrap_or_else(|| panic!("no thinking block: {text}"));
    assert!(thinking.len() < 40, "four tokens of thinking, got {thinking:?}");
}

/// `--speculative` (MTP draft + verify) writes exactly what plain greedy decoding writes, and a
/// model without an MTP module is refused by name.
#[test]
fn speculative_decoding_matches_greedy_and_needs_an_mtp_module() {
    let (dir, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mtp = fixtures.join("deepseek_v3_mtp");
    let ids = |extra: &[&str]| -> Vec<u64> {
        let mut args = vec![
            "generate",
            "-m",
            mtp.to_str().unwrap(),
            "--raw",
            "--prompt",
            "The",
            "--temperature",
            "0",
            "--max-tokens",
            "24",
            "--ignore-eos",
            "--json",
        ];
        args.retain(|a| !(extra.contains(&"--speculative") && *a == "--ignore-eos"));
        args.extend_from_slice(extra);
        let out = reasoner(dir.path(), cache.path()).args(&args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token_ids"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect()
    };
    let plain = ids(&[]);
    let spec = ids(&["--speculative"]);
    assert!(!spec.is_empty());
    assert_eq!(spec[..], plain[..spec.len()], "speculative greedy differs from plain greedy");

    let out = reasoner(dir.path(), cache.path())
        .args([
            "generate",
            "-m",
            fixtures.join("qwen2_f32").to_str().unwrap(),
            "--raw",
            "--prompt",
            "The",
            "--speculative",
            "--max-tokens",
            "4",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("qwen2_f32") && err.contains("MTP"), "{err}");
}
