//! Hardening: every integer metadata value of GGUF files we write (a dense Qwen2 and a DeepSeek
//! `deepseek2` file) set to values a corrupt or hostile file could hold. Loading must give a model
//! or a clear error — never a panic, an abort on a huge allocation, or a hang — and a model that
//! loads must run a forward pass without panicking. Enumerated, so every case replays each run.

use reasoner_model::formats::gguf::{GgufFile, GgufWriter, MetaValue};
use reasoner_model::formats::quantize::{QuantizeOptions, quantize_model};
use reasoner_model::quant::GgmlType;
use reasoner_model::{LogitsFor, SeqInput, load_model};
use reasoner_testutil::fixture;
use std::panic::{AssertUnwindSafe, catch_unwind};
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
            let started = std::time::Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                if let Ok(m) = load_model(&path) {
                    let mut cache = m.new_cache();
                    let _ =
                        m.model.forward(&mut [SeqInput { tokens: &[1, 2], cache: Some(&mut cache) }], LogitsFor::Last);
                }
            }));
            assert!(outcome.is_ok(), "{name}: {key} = {bad:?}: panicked");
            assert!(started.elapsed().as_secs() < 20, "{name}: {key} = {bad:?}: took {:?}", started.elapsed());
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
