//! Helpers the model crate's integration tests share: the workspace's fixture helpers
//! (`reasoner-testutil`), the decode-path log-probs the golden tests compare with, and a
//! deterministic generator for kernel tests.
#![allow(dead_code, unused_imports)] // each test binary uses its own subset

use reasoner_model::layers::log_softmax_last_dim;
use reasoner_model::{CausalLm, LogitsFor, SeqInput, SequenceCache};
pub use reasoner_testutil::{fixture, floats, golden, ids, max_diff};

/// A xorshift generator: the same values on every machine, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// Weight-like values with some outliers and an all-zero stretch.
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n).map(|_| self.next() * scale).collect();
        if n >= 64 {
            v[n / 3] *= 20.0;
            v[n / 2..n / 2 + 32].iter_mut().for_each(|x| *x = 0.0);
        }
        v
    }
}

/// Log-probs of ids[1..] computed token by token through the KV cache (the decode path).
pub fn decode_logprobs(model: &dyn CausalLm, ids: &[u32]) -> Vec<f32> {
    decode_logprobs_in(model, ids, model.new_cache())
}

/// `decode_logprobs` through a given (empty) cache, e.g. an f16 one.
pub fn decode_logprobs_in(model: &dyn CausalLm, ids: &[u32], mut cache: SequenceCache) -> Vec<f32> {
    let mut out = Vec::new();
    for t in 0..ids.len() - 1 {
        let logits = model
            .forward(&mut [SeqInput { tokens: &ids[t..t + 1], cache: Some(&mut cache) }], LogitsFor::Last)
            .unwrap();
        let lp: Vec<f32> = log_softmax_last_dim(&logits[0]).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        out.push(lp[ids[t + 1] as usize]);
    }
    out
}

/// Hardening tests: the model at `path` loads and runs a two-token forward, or fails with an
/// error that says something; never a panic, and within 20 s. `what` names the case.
pub fn assert_loads_or_fails_cleanly(path: &std::path::Path, what: &str) {
    let started = std::time::Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match reasoner_model::load_model(path) {
        Err(e) => assert!(!e.to_string().is_empty(), "{what}: an empty error"),
        Ok(m) => {
            let mut cache = m.new_cache();
            let _ = m.model.forward(&mut [SeqInput { tokens: &[1, 2], cache: Some(&mut cache) }], LogitsFor::Last);
        }
    }));
    assert!(outcome.is_ok(), "{what}: panicked");
    assert!(started.elapsed().as_secs() < 20, "{what}: took {:?}", started.elapsed());
}
