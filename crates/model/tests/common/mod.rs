//! Helpers the model crate's integration tests share.
#![allow(dead_code)] // each test binary uses its own subset

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
