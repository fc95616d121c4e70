//! Quantized mat-vec speed as GB/s of weight bytes streamed, beside the machine's measured
//! memory read bandwidth (the roofline a memory-bound mat-vec is judged against).
//! Run: `cargo bench -p reasoner-model --bench quant_matvec` (QUICK=1 for a short run;
//! TYPES=q4_K,q6_K and KERNELS=x8,avx2 keep only those rows; SHAPE=RxC measures that shape;
//! KERNEL=1 times the x8 kernels alone on one core instead: pick a SHAPE that fits L2, e.g. 64x8192).

use std::hint::black_box;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use reasoner_model::kernels::InterleavedMatrix;
use reasoner_model::kernels::{self, Kernels, matvec_with};
use reasoner_model::quant::{GgmlType, QMatrix};

/// (rows, cols): Qwen2.5-0.5B's and 1.5B's MLP down projections.
const SHAPES: [(usize, usize); 2] = [(896, 4864), (1536, 8960)];
/// Weight bytes the "cold" runs cycle through: well past any L3.
const COLD_BYTES: usize = 512 << 20;

fn time_best(min_time: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    let start = Instant::now();
    while start.elapsed() < min_time {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

/// Sum of a 1 GiB f32 buffer, 16 independent lanes per thread so the adds vectorize.
fn memory_read_gbs(threads: usize, min_time: Duration) -> f64 {
    let n = (1usize << 30) / 4;
    let buf: Vec<f32> = (0..n).map(|i| (i & 1023) as f32).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let sum_chunk = |c: &[f32]| {
        let mut acc = [0f32; 16];
        for v in c.chunks_exact(16) {
            for i in 0..16 {
                acc[i] += v[i];
            }
        }
        acc.iter().sum::<f32>()
    };
    let secs = time_best(min_time, || {
        let s: f32 = pool.install(|| buf.par_chunks(n / threads).map(sum_chunk).sum());
        black_box(s);
    });
    (n * 4) as f64 / secs / 1e9
}

fn matvec_gbs(k: &Kernels, mats: &[QMatrix], threads: usize, min_time: Duration) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let (rows, cols) = (mats[0].rows, mats[0].cols);
    let x: Vec<f32> = (0..cols).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    let mut out = vec![0f32; rows];
    let bytes: usize = mats.iter().map(|m| m.data.len()).sum();
    let secs = time_best(min_time, || {
        pool.install(|| {
            for m in mats {
                matvec_with(k, m, &x, &mut out);
            }
        });
        black_box(&out);
    });
    bytes as f64 / secs / 1e9
}

/// As `matvec_gbs` for K-quant matrices interleaved eight rows at a time.
fn x8_matvec_gbs(mats: &[InterleavedMatrix], threads: usize, min_time: Duration) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let (rows, cols) = (mats[0].rows, mats[0].cols);
    let x: Vec<f32> = (0..cols).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    let mut out = vec![0f32; rows];
    let bytes: usize = mats.iter().map(|m| m.n_bytes()).sum();
    let secs = time_best(min_time, || {
        pool.install(|| {
            for m in mats {
                m.matmul(&x, &mut out);
            }
        });
        black_box(&out);
    });
    bytes as f64 / secs / 1e9
}

fn main() {
    let quick = std::env::var("QUICK").is_ok();
    // Comma-separated filters on the type and kernel columns (all when unset).
    let keep =
        |var: &str, name: &str| std::env::var(var).map_or(true, |v| v.split(',').any(|x| x.eq_ignore_ascii_case(name)));
    let min_time = Duration::from_millis(if quick { 300 } else { 1500 });
    let tables = kernels::available();
    let best = kernels::kernels();
    println!("kernel tables: {tables:?}; default: {}", best.name);

    let mem = [memory_read_gbs(1, min_time), memory_read_gbs(2, min_time)];
    println!("memory read bandwidth (sum over 1 GiB f32): 1 thread {:.1} GB/s, 2 threads {:.1} GB/s", mem[0], mem[1]);
    println!();
    println!(
        "{:<6} {:>11} {:>8} {:>7} {:>5} {:>9} {:>9} {:>8}",
        "type", "shape", "MiB", "kernels", "thr", "hot GB/s", "cold GB/s", "cold/mem"
    );

    for dtype in
        [GgmlType::Q8_0, GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K].into_iter().filter(|t| keep("TYPES", t.name()))
    {
        // SHAPE=RxC measures that shape instead of the two model shapes.
        let custom = std::env::var("SHAPE").ok().and_then(|v| {
            let (r, c) = v.split_once('x')?;
            Some(vec![(r.parse().ok()?, c.parse().ok()?)])
        });
        for (rows, cols) in custom.unwrap_or(SHAPES.to_vec()) {
            let w: Vec<f32> = (0..rows * cols).map(|i| (((i * 2654435761) >> 7) % 2001) as f32 * 1e-5 - 0.01).collect();
            let m = QMatrix::quantize(dtype, &w, rows, cols).unwrap();
            let copies = COLD_BYTES.div_ceil(m.data.len());
            let cold: Vec<QMatrix> = (0..copies).map(|_| m.clone()).collect();
            let hot = std::slice::from_ref(&m);
            let mib = m.data.len() as f64 / (1 << 20) as f64;
            for k in tables.iter().filter(|k| (k.name != "scalar" || !quick) && keep("KERNELS", k.name)) {
                for threads in [1, 2] {
                    let h = matvec_gbs(k, hot, threads, min_time);
                    let c = matvec_gbs(k, &cold, threads, min_time);
                    println!(
                        "{:<6} {:>11} {:>8.2} {:>7} {:>5} {:>9.1} {:>9.1} {:>7.0}%",
                        dtype.name(),
                        format!("{rows}x{cols}"),
                        mib,
                        k.name,
                        threads,
                        h,
                        c,
                        100.0 * c / mem[threads - 1]
                    );
                }
            }
            if InterleavedMatrix::fits(dtype, rows, cols) && keep("KERNELS", "x8") {
                let x8 = InterleavedMatrix::from_rows(dtype, &m.data, rows, cols).unwrap();
                if std::env::var("KERNEL").is_ok() {
                    let x: Vec<f32> = (0..cols).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
                    let gbs: Vec<String> =
                        (0..5).map(|_| format!("{:.1}", x8.kernel_bytes_per_s(&x, 200) / 1e9)).collect();
                    println!(
                        "{:<6} {:>11} {:>8.2} {:>7} kernel alone, 1 core, GB/s: {}",
                        dtype.name(),
                        format!("{rows}x{cols}"),
                        mib,
                        "x8",
                        gbs.join(" ")
                    );
                    continue;
                }
                let cold: Vec<InterleavedMatrix> = (0..copies).map(|_| x8.clone()).collect();
                for threads in [1, 2] {
                    let h = x8_matvec_gbs(std::slice::from_ref(&x8), threads, min_time);
                    let c = x8_matvec_gbs(&cold, threads, min_time);
                    let (shape, pct) = (format!("{rows}x{cols}"), 100.0 * c / mem[threads - 1]);
                    println!(
                        "{:<6} {:>11} {:>8.2} {:>7} {:>5} {:>9.1} {:>9.1} {:>7.0}%",
                        dtype.name(),
                        shape,
                        mib,
                        "x8",
                        threads,
                        h,
                        c,
                        pct
                    );
                }
            }
        }
    }
}
