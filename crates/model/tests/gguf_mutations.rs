//! Hardening: every integer metadata value of GGUF files we write (a dense Qwen2 and a DeepSeek
//! `deepseek2` file) set to values a corrupt or hostile file could hold. Loading must give a model
//! or a clear error — never a panic, an abort on a huge allocation, or a hang — and a model that
//! loads must run a forward pass without panicking. Enumerated, so every case replays each run.

use reasoner_model::formats::gguf::{GgufFile, GgufWriter, MetaValue};
use reasoner_model::formats::quantize::{QuantizeOptions, quantize_model};
use reasoner_model::quant::GgmlType;
mod common;
use common::{assert_loads_or_fails_cleanly, fixture};
use std::path::Path;

/// Hostile replacements for an integer value of this type.
fn mutants(v: &MetaValue) -> Vec<MetaValue> {
    match v {
        MetaValue::U32(_) => vec![0, 1, 3, 1 << 31, u32::MAX].into_iter().map(MetaValue::U32).collect(),
        MetaValue::I32(_) => vec![0, -1, i32::MIN, i32::MAX].into_iter().map(MetaValue::I32).collect(),
        MetaValue::U64(_) => vec![0, 1, 1 << 40, 1 << 62, u64::MAX].into_iter().map(MetaValue::U64).collect(),
        MetaValue::I64(_) => vec![0, -1, i64::MIN, i64::MAX].into_iter().map(MetaValue::I64).collect(),
        MetaValue::F32(_) => vec![0.0, -1.0, f32::NAN, f32::INFINITY, 1e30].into_iter().map(MetaValue::F32).collect(),
        _ => Vec::new(),
    }
}

fn rewrite(src: &GgufFile, key: &str, value: MetaValue, out: &Path) -> bool {
    let mut w = GgufWriter::new();
    for (k, v) in src.metadata().iter() {
        w.set(k, if k == key { value.clone() } else { v.clone() });
    }
    for t in src.tensors() {
        if w.add_tensor_bytes(t.name.clone(), &t.dims, t.dtype, src.data_of(t).to_vec()).is_err() {
            return false;
        }
    }
    // The writer itself refuses some values (an alignment that is not a power of two).
    w.write(out).is_ok()
}

fn check(name: &str) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join(format!("{name}.gguf"));
    quantize_model(&fixture(name), &good, &QuantizeOptions { to: GgmlType::F32, keep: vec![] }, &mut |_, _, _| {})
        .unwrap();
    let src = GgufFile::open(&good).unwrap();
    let keys: Vec<(String, MetaValue)> = src.metadata().iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let mut cases = 0;
    for (key, value) in &keys {
        for bad in mutants(value) {
            let path = dir.path().join("mutant.gguf");
            if !rewrite(&src, key, bad.clone(), &path) {
                continue;
            }
            assert_loads_or_fails_cleanly(&path, &format!("{name}: {key} = {bad:?}"));
            cases += 1;
        }
    }
    cases
}

#[test]
fn mutated_gguf_metadata_loads_or_fails_cleanly() {
    let cases = check("qwen2_f32") + check("deepseek_v3");
    assert!(cases > 50, "only {cases} cases");
    eprintln!("{cases} mutated GGUF files, none panicked");
}

/// Every dimension of every tensor in the file's tensor table patched in place to 0, 1, 2^32 or
/// 2^62 (a zero dimension once switched off the size check of the others): each file loads or
/// fails cleanly, and a loaded one runs a forward.
#[test]
fn mutated_gguf_tensor_dims_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("qwen2.gguf");
    quantize_model(
        &fixture("qwen2_f32"),
        &good,
        &QuantizeOptions { to: GgmlType::Q8_0, keep: vec![] },
        &mut |_, _, _| {},
    )
    .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let src = GgufFile::open(&good).unwrap();
    let mut cases = 0;
    for t in src.tensors() {
        // The tensor table entry: u64 name length, the name, u32 n_dims, then n_dims u64 dims.
        let mut key = (t.name.len() as u64).to_le_bytes().to_vec();
        key.extend_from_slice(t.name.as_bytes());
        key.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        let at = bytes.windows(key.len()).position(|w| w == key.as_slice()).expect("tensor entry") + key.len();
        for d in 0..t.dims.len() {
            for value in [0u64, 1, 1 << 32, 1 << 62] {
                let mut b = bytes.clone();
                b[at + 8 * d..at + 8 * d + 8].copy_from_slice(&value.to_le_bytes());
                let path = dir.path().join("mutant.gguf");
                std::fs::write(&path, &b).unwrap();
                assert_loads_or_fails_cleanly(&path, &format!("{}: dim {d} = {value}", t.name));
                cases += 1;
            }
        }
    }
    assert!(cases > 40, "only {cases} cases");
    eprintln!("{cases} GGUF files with a patched tensor dimension, none panicked");
}
