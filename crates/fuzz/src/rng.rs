//! The fuzzer's random numbers: splitmix64, so a (format, seed, case) triple names the same
//! input on every machine and every run (the model crate's `SplitMix64`, seeded per case).

use reasoner_model::named_tensors::SplitMix64;

#[derive(Clone)]
pub struct Rng(SplitMix64);

impl Rng {
    /// The generator for case `case` of a run: independent of every other case, so one case
    /// replays alone (`--case N`).
    pub fn for_case(seed: u64, format: &str, case: u64) -> Self {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for b in format.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let mut r = Self(SplitMix64(seed ^ h ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next_u64() % n as u64) as usize }
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// FNV-1a of `bytes`: names a crash file by its content.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    h
}
