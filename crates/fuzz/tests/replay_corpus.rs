//! The crash corpus (tests/fuzz-corpus/<format>/): every input the fuzzer ever found failing,
//! replayed through the fuzzer's worker on every `cargo test`; each must now load, run or be
//! refused with an error — no panic, abort, hang or empty error. Then a short fresh run per
//! format (fixed seed) checks that the driver itself still finds nothing in a few hundred cases.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fuzz() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_reasoner-fuzz"));
    c.current_dir(root());
    c
}

/// The `reasoner` binary command-line cases run (beside this crate's binary).
fn reasoner() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_reasoner-fuzz")).with_file_name("reasoner")
}

#[test]
fn every_corpus_entry_now_ends_cleanly() {
    let corpus = root().join("tests/fuzz-corpus");
    let formats: Vec<PathBuf> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!formats.is_empty(), "no corpus folders under {}", corpus.display());
    if formats.iter().any(|f| f.ends_with("cli")) {
        assert!(
            reasoner().is_file(),
            "{} is missing: the command-line corpus runs it (cargo build --release -p reasoner)",
            reasoner().display()
        );
    }
    let out = fuzz().arg("replay").arg(&corpus).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "corpus replay failed:\n{stdout}");
    assert!(stdout.contains("0 findings"), "{stdout}");
}

/// A short fixed-seed run of each library format (the command line is covered by the CI run):
/// the driver makes cases, the worker answers, and nothing is found.
#[test]
fn a_short_fixed_seed_run_finds_nothing() {
    let crashes = tempfile_dir();
    let out = fuzz()
        .args(["run", "--format", "gguf,safetensors,config,tokenizer,template,jsonl,train-config"])
        .args(["--cases", "150", "--seed", "26", "--crashes"])
        .arg(&crashes)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}");
    for format in ["gguf", "safetensors", "config", "tokenizer", "template", "jsonl", "train-config"] {
        assert!(stdout.contains(&format!("{format}: 150 cases")), "{format} missing:\n{stdout}");
    }
    let _ = std::fs::remove_dir_all(&crashes);
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("reasoner-fuzz-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
