//! Hardening: every numeric key of the dense and DeepSeek fixtures' config.json set to values a
//! corrupt or hostile file could hold (zero, one, huge, negative, fractional, wrong type). Loading
//! must give a model or a clear error naming config.json — never a panic, an abort on a huge
//! allocation, or a hang — and a model that loads must run a forward pass without panicking.
//! The cases are enumerated, not sampled, so every one is replayed on every run.

mod common;
use common::{assert_loads_or_fails_cleanly, fixture};
use serde_json::{Value, json};

fn mutants() -> Vec<Value> {
    vec![
        json!(0),
        json!(1),
        json!(3),
        json!(1u64 << 31),
        json!(1_000_000_000_000u64),
        json!(1u64 << 62),
        json!(u64::MAX),
        json!(-1),
        json!(0.5),
        json!(1e18),
        json!("7"),
        Value::Null,
    ]
}

fn check_fixture(name: &str) -> usize {
    let src = fixture(name);
    let config: Value = serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    let keys: Vec<String> =
        config.as_object().unwrap().iter().filter(|(_, v)| v.is_number()).map(|(k, _)| k.clone()).collect();
    assert!(keys.len() >= 8, "{name}: only {} numeric keys", keys.len());
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    let mut cases = 0;
    for key in &keys {
        for value in mutants() {
            let mut c = config.clone();
            c[key.as_str()] = value.clone();
            std::fs::write(dir.path().join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
            assert_loads_or_fails_cleanly(dir.path(), &format!("{name}: {key} = {value}"));
            cases += 1;
        }
    }
    cases
}

#[test]
fn mutated_configs_load_or_fail_cleanly() {
    let mut cases = 0;
    for name in ["qwen2_f32", "llama_f32", "qwen3_f32", "deepseek_v3"] {
        cases += check_fixture(name);
    }
    eprintln!("{cases} mutated configs, none panicked");
}
