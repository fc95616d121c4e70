//! Helpers the engine's integration tests share: fixture paths and golden.json fields.
#![allow(dead_code)] // each test binary uses its own subset

use reasoner_model::layers::log_softmax_last_dim;
use reasoner_model::{CausalLm, LogitsFor, SeqInput, SequenceCache};
use serde_json::Value;
use std::path::PathBuf;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(name)
}

pub fn golden(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("golden.json")).unwrap()).unwrap()
}

pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Log-probs of ids[1..] computed token by token through the KV cache (the decode path).
pub fn decode_logprobs(model: &dyn CausalLm, ids: &[u32]) -> Vec<f32> {
    decode_logprobs_in(model, ids, model.new_cache())
}

/// `decode_logprobs` through a given (empty) cache, e.g. an f16 one.
pub fn decode_logprobs_in(model: &dyn CausalLm, ids: &[u32], mut cache: SequenceCache) -> Vec<f32> {
    let mut out = Vec::new();
    for t in 0..ids.len() - 1 {
        let logits = model.forward(&mut [SeqInput { tokens: &ids[t..t + 1], cache: Some(&mut cache) }], LogitsFor::Last).unwrap();
        let lp: Vec<f32> = log_softmax_last_dim(&logits[0]).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        out.push(lp[ids[t + 1] as usize]);
    }
    out
}
