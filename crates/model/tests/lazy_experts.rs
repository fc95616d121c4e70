//! Routed experts left in the file's memory map (`LoadOptions::lazy_experts`): the same logits as
//! experts copied into memory at load (bit for bit), the experts reported as mapped, and only them.

mod common;
use common::*;

use reasoner_model::formats::quantize::{QuantizeOptions, quantize_model};
use reasoner_model::quant::GgmlType;
use reasoner_model::{LoadOptions, LogitsFor, SeqInput, load_model_with};

#[test]
fn mapped_experts_compute_what_loaded_experts_compute() {
    let dir = tempfile::tempdir().unwrap();
    for (name, to) in [("deepseek_v3", GgmlType::Q8_0), ("deepseek_v2_lite", GgmlType::Q4_0)] {
        let gguf = dir.path().join(format!("{name}.gguf"));
        quantize_model(&fixture(name), &gguf, &QuantizeOptions { to, keep: vec![] }, &mut |_, _, _| {}).unwrap();
        let ids = ids(&golden(name)["cases"][0]["ids"]);
        let logits = |lazy: bool| {
            let m = load_model_with(&gguf, &LoadOptions { lazy_experts: Some(lazy), ..Default::default() }).unwrap();
            let out = m.model.forward(&mut [SeqInput { tokens: &ids, cache: None }], LogitsFor::All).unwrap();
            let v: Vec<f32> = out[0].flatten_all().unwrap().to_vec1().unwrap();
            (v, m.tensor_paths)
        };
        let ((lazy, paths), (eager, eager_paths)) = (logits(true), logits(false));
        let mapped: Vec<_> = paths.iter().filter(|p| p.compute.ends_with("(mapped)")).collect();
        assert!(!mapped.is_empty(), "{name}: no expert left mapped");
        assert!(mapped.iter().all(|p| p.tensor.contains(".mlp.experts.")), "{name}: {mapped:?}");
        assert!(paths.iter().filter(|p| p.tensor.contains(".mlp.experts.")).all(|p| p.compute.ends_with("(mapped)")));
        assert!(eager_paths.iter().all(|p| !p.compute.ends_with("(mapped)")), "{name}: mapped without asking");
        // The row kernels and the interleaved ones give the same sums bit for bit.
        let differing = lazy.iter().zip(&eager).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(differing, 0, "{name}: mapped experts change {differing} logits");
    }
}
