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
    let repo_model = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/tiny-r1/model.safetensors");
    assert!(repo_model.exists(), "models/tiny-r1 is missing: the binary would have no default model");
    let (elsewhere, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let info = reasoner(elsewhere.path(), cache.path()).args(["info", "--json"]).output().unwrap();
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(json.to_string().contains("Qwen2ForCausalLM"), "{json}");
    // Written once into the cache, byte for byte the repository's model.
    let written: Vec<_> = std::fs::read_dir(cache.path().join("reasoner")).unwrap().filter_map(|e| e.ok()).collect();
    assert_eq!(written.len(), 1, "one model directory in the cache");
    assert_eq!(std::fs::read(written[0].path().join("model.safetensors")).unwrap(), std::fs::read(&repo_model).unwrap());

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
    let info = reasoner(elsewhere.path(), cache.path()).args(["info", "--json", "-m", fixture.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("Qwen3ForCausalLM"));
}
