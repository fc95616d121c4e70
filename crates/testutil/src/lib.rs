//! Helpers the workspace's integration tests share: where the committed fixtures are and the
//! fields of their golden.json files. A dev-dependency only, and it depends on no crate of ours,
//! so every crate's tests can use it without a cycle.

use serde_json::Value;
use std::path::PathBuf;

/// The repository root (this crate sits at `crates/testutil`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tests/fixtures`, where the committed fixtures live (see its README.md).
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures")
}

/// One fixture under `tests/fixtures`, e.g. `fixture("qwen2_f32")` or `fixture("gguf/x.gguf")`.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// `fixture(name)` as a command-line argument.
pub fn fixture_arg(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

/// A fixture's golden.json (written by the reference implementation).
pub fn golden(name: &str) -> Value {
    let path = fixture(name).join("golden.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A golden.json array of token ids.
pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array().expect("an array of ids").iter().map(|x| x.as_u64().expect("an id") as u32).collect()
}

/// A golden.json array of numbers, as f32.
pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("an array of numbers").iter().map(|x| x.as_f64().expect("a number") as f32).collect()
}

/// Largest absolute difference between two equally long slices.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
