//! The tiled integer GEMM (prefill over Q8_0, Q4_0, Q5_0 and Q4_K weights) must give the scalar row-dot
//! result bit for bit, for every core this CPU has, on shapes with tails everywhere: batch and
//! rows not multiples of the tile, rows of 896 values (28 blocks, not a multiple of 8), fewer
//! than eight blocks (or super-blocks), at one thread and at several.

use std::borrow::Cow;

use reasoner_model::kernels::{self, gemm_cores, matmul_tiled_with, matvec_with};
use reasoner_model::quant::{GgmlType, QMatrix};

mod common;
use common::Rng;

/// Per-row scalar mat-vec, laid out (batch, rows) as `matmul` writes it.
fn reference(w: &QMatrix, x: &[f32]) -> Vec<f32> {
    let scalar = kernels::available()[0];
    assert_eq!(scalar.name, "scalar");
    let batch = x.len() / w.cols;
    let mut out = vec![0f32; batch * w.rows];
    for (xb, ob) in x.chunks_exact(w.cols).zip(out.chunks_exact_mut(w.rows)) {
        matvec_with(scalar, w, xb, ob);
    }
    out
}

fn check(w: &QMatrix, x: &[f32], what: &str) {
    let want = reference(w, x);
    let cores = gemm_cores();
    eprintln!("tiled GEMM cores on this CPU: {cores:?}");
    for core in cores {
        let mut got = vec![f32::NAN; want.len()];
        assert!(matmul_tiled_with(core, w, x, &mut got));
        for (i, (g, e)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), e.to_bits(), "{core:?} {what} value {i}: {g} vs {e}");
        }
    }
}

#[test]
fn tiled_gemm_equals_scalar_row_dots_on_every_shape() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for dtype in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
        for &cols in &[32usize, 224, 256, 288, 896, 4864] {
            for &rows in &[1usize, 3, 4, 5, 13, 64] {
                let w = QMatrix::quantize(dtype, &rng.vec(rows * cols, 0.05), rows, cols).unwrap();
                for &batch in &[1usize, 2, 5, 8, 11, 17] {
                    let x = rng.vec(batch * cols, if batch == 11 { 1e3 } else { 1.0 });
                    for threads in [1, 2, 3] {
                        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                        let what = format!("{dtype} cols {cols} rows {rows} batch {batch} threads {threads}");
                        pool.install(|| check(&w, &x, &what));
                    }
                }
            }
        }
    }
}

#[test]
fn tiled_q4_k_gemm_equals_scalar_row_dots_on_every_shape() {
    let mut rng = Rng(0x5eed_4444_abcd_0002);
    for &cols in &[256usize, 512, 2304, 4864] {
        for &rows in &[1usize, 5, 8, 13, 64] {
            let w = QMatrix::quantize(GgmlType::Q4K, &rng.vec(rows * cols, 0.05), rows, cols).unwrap();
            for &batch in &[1usize, 3, 4, 8, 11] {
                let x = rng.vec(batch * cols, if batch == 11 { 1e3 } else { 1.0 });
                for threads in [1, 2, 3] {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    pool.install(|| {
                        check(&w, &x, &format!("q4_k cols {cols} rows {rows} batch {batch} threads {threads}"))
                    });
                }
            }
        }
    }
}

#[test]
fn tiled_q4_k_gemm_on_arbitrary_block_bytes() {
    // Any nibble and any packed scale/min byte (6-bit scales up to 63), small finite f16 d/dmin.
    let mut rng = Rng(31337);
    let (rows, cols, batch) = (77, 2304, 13);
    let rb = reasoner_model::quant::row_bytes(GgmlType::Q4K, cols).unwrap();
    let mut bytes: Vec<u8> = (0..rows * rb).map(|_| (rng.next() * 128.0 + 128.0) as u8).collect();
    for block in bytes.chunks_exact_mut(GgmlType::Q4K.type_size()) {
        for at in [0, 2] {
            let d = half::f16::from_f32(rng.next() * 0.01).to_bits().to_le_bytes();
            block[at..at + 2].copy_from_slice(&d);
        }
    }
    let w = QMatrix::new(GgmlType::Q4K, rows, cols, Cow::Owned(bytes)).unwrap();
    let x = rng.vec(batch * cols, 1.0);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| check(&w, &x, &format!("q4_k threads {threads}")));
    }
}

#[test]
fn tiled_gemm_on_arbitrary_block_bytes_and_large_band() {
    // Any byte in the quants (including -128) with small finite f16 scales, and a matrix big
    // enough to be split into several parallel bands.
    let mut rng = Rng(4242);
    let (rows, cols, batch) = (301, 896, 37);
    for dtype in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0] {
        let rb = reasoner_model::quant::row_bytes(dtype, cols).unwrap();
        let mut bytes: Vec<u8> = (0..rows * rb).map(|_| (rng.next() * 128.0 + 128.0) as u8).collect();
        for block in bytes.chunks_exact_mut(dtype.type_size()) {
            let d = half::f16::from_f32(rng.next() * 0.01).to_bits().to_le_bytes();
            block[..2].copy_from_slice(&d);
        }
        let w = QMatrix::new(dtype, rows, cols, Cow::Owned(bytes)).unwrap();
        let x = rng.vec(batch * cols, 1.0);
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| check(&w, &x, &format!("{dtype} threads {threads}")));
        }
    }
}

#[test]
fn tiled_gemm_declines_types_it_does_not_cover() {
    let mut rng = Rng(9);
    let w = QMatrix::quantize(GgmlType::Q6K, &rng.vec(4 * 256, 0.05), 4, 256).unwrap();
    let x = rng.vec(8 * 256, 1.0);
    let mut out = vec![0f32; 8 * 4];
    for core in gemm_cores() {
        assert!(!matmul_tiled_with(core, &w, &x, &mut out));
    }
    // Prefill still runs Q6_K on the integer row kernels (`kernels::matmul`), not f32 GEMM.
    assert!(kernels::int8_prefill_for(GgmlType::Q6K));
    assert!(!kernels::int8_prefill_for(GgmlType::F16));
}

/// `cargo test --release -p reasoner-model --test quant_gemm -- --ignored --nocapture`
#[test]
#[ignore]
fn tiled_gemm_timing() {
    let mut rng = Rng(1);
    let (rows, cols, batch) = (896, 4864, 128);
    let dtype = match std::env::var("GEMM_TYPE").as_deref() {
        Ok("q4_k") => GgmlType::Q4K,
        Ok("q5_0") => GgmlType::Q5_0,
        Ok("q4_0") => GgmlType::Q4_0,
        Ok("q6_k") => GgmlType::Q6K,
        _ => GgmlType::Q8_0,
    };
    let w = QMatrix::quantize(dtype, &rng.vec(rows * cols, 0.05), rows, cols).unwrap();
    let x = rng.vec(batch * cols, 1.0);
    let mut out = vec![0f32; batch * rows];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    pool.install(|| {
        for core in gemm_cores() {
            for _ in 0..3 {
                let t = std::time::Instant::now();
                matmul_tiled_with(core, &w, &x, &mut out);
                let s = t.elapsed().as_secs_f64();
                eprintln!("{core:?}: {:.2} ms, {:.1} GMAC/s", s * 1e3, (rows * cols * batch) as f64 / s / 1e9);
            }
        }
        let t = std::time::Instant::now();
        kernels::matmul(&w, &x, &mut out);
        eprintln!("row-dot matmul: {:.2} ms", t.elapsed().as_secs_f64() * 1e3);
        if let Ok(x8) = reasoner_model::kernels::InterleavedMatrix::from_rows(dtype, &w.data, rows, cols) {
            for _ in 0..3 {
                let t = std::time::Instant::now();
                x8.matmul(&x, &mut out);
                let s = t.elapsed().as_secs_f64();
                eprintln!("x8 group kernels: {:.2} ms, {:.1} GMAC/s", s * 1e3, (rows * cols * batch) as f64 / s / 1e9);
            }
        }
    });
}
