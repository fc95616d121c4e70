//! The memory-bandwidth ceiling for decoding: every weight byte is read once per token, so
//! tokens/s can be at most (read bandwidth) / (weight bytes read per token). The bandwidth is
//! measured here, on this machine, with the same thread count as the benchmark.

use rayon::prelude::*;
use std::time::Instant;

/// A 256 MiB buffer (well past any cache) and a pool of the benchmark's thread count, to read
/// the memory bandwidth now and again during a benchmark: on a shared machine it swings (30 to
/// 55 GB/s on our 2-core VM within minutes) with what the neighbours do, so a decode is judged
/// against a reading taken beside it.
pub struct BandwidthProbe {
    buf: Vec<f32>,
    pool: rayon::ThreadPool,
}

impl BandwidthProbe {
    pub fn new(threads: usize) -> Option<Self> {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().ok()?;
        let n = (256usize << 20) / 4;
        // In huge pages, as the model's weights are: the ceiling is what the memory can give.
        let mut buf = Vec::with_capacity(n);
        reasoner_model::cpu::huge_pages::advise_huge_pages(buf.spare_capacity_mut());
        buf.extend((0..n).map(|i| (i & 1023) as f32));
        Some(Self { buf, pool })
    }

    /// Read bandwidth in bytes/s: summing the buffer, best of `passes`.
    pub fn read(&self, passes: usize) -> f64 {
        let chunk = self.buf.len().div_ceil(self.pool.current_num_threads() * 8);
        let mut best = f64::MAX;
        for _ in 0..passes.max(1) {
            let t = Instant::now();
            let s: f32 = self.pool.install(|| {
                self.buf
                    .par_chunks(chunk)
                    .map(|c| {
                        // 16 independent lanes so the adds vectorize and the loop is load-bound.
                        let mut acc = [0f32; 16];
                        for v in c.chunks_exact(16) {
                            for i in 0..16 {
                                acc[i] += v[i];
                            }
                        }
                        acc.iter().sum::<f32>()
                    })
                    .sum()
            });
            std::hint::black_box(s);
            best = best.min(t.elapsed().as_secs_f64());
        }
        (self.buf.len() * 4) as f64 / best
    }
}
