//! The memory-bandwidth ceiling for decoding: every weight byte is read once per token, so
//! tokens/s can be at most (read bandwidth) / (weight bytes read per token). The bandwidth is
//! measured here, on this machine, with the same thread count as the benchmark.

use rayon::prelude::*;
use std::time::Instant;

/// Read bandwidth in bytes/s: summing a 512 MiB buffer (well past any cache), best of 3.
pub fn measure_read_bandwidth(threads: usize) -> f64 {
    let n = (512usize << 20) / 4;
    let buf: Vec<f32> = (0..n).map(|i| (i & 1023) as f32).collect();
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build() {
        Ok(p) => p,
        Err(_) => return 0.0,
    };
    let chunk = n.div_ceil(threads.max(1) * 8);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let s: f32 = pool.install(|| {
            buf.par_chunks(chunk)
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
    (n * 4) as f64 / best
}
