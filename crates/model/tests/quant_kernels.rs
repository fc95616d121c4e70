//! One test body run on every kernel table this CPU has (scalar, AVX2, AVX-512): each must give
//! the scalar result bit for bit, for every weight type and many row lengths; mat-vec must agree
//! with dequantize-then-f32-dot; mat-mul must equal row-by-row mat-vec at any thread count.

use reasoner_model::kernels::{self, Activation, Kernels, matmul_with, matvec_with};
use reasoner_model::quant::{GgmlType, QMatrix};

const TYPES: [GgmlType; 8] = [
    GgmlType::Q8_0,
    GgmlType::Q4_0,
    GgmlType::Q5_0,
    GgmlType::Q4K,
    GgmlType::Q6K,
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
];

mod common;
use common::Rng;

fn row_lengths(dtype: GgmlType) -> Vec<usize> {
    match dtype.block_size() {
        256 => vec![256, 512, 768, 2304, 4864],
        32 => vec![32, 64, 224, 256, 288, 544, 896, 4864],
        _ => vec![1, 7, 8, 31, 32, 33, 100, 896, 4867],
    }
}

fn tables() -> Vec<&'static Kernels> {
    let all = kernels::available();
    eprintln!("kernel tables on this CPU: {:?}", all);
    all
}

#[test]
fn every_simd_table_equals_scalar_bit_for_bit() {
    let all = tables();
    let scalar = all[0];
    assert_eq!(scalar.name, "scalar");
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for dtype in TYPES {
        for cols in row_lengths(dtype) {
            let rows = 5;
            let w = QMatrix::quantize(dtype, &rng.vec(rows * cols, 0.05), rows, cols).unwrap();
            for trial in 0..3 {
                let x = rng.vec(cols, if trial == 2 { 1e3 } else { 1.0 });
                let act = Activation::for_weights(dtype, &x);
                for r in 0..rows {
                    let want = scalar.row_dot(dtype, w.row(r), &act);
                    for k in &all[1..] {
                        let got = k.row_dot(dtype, w.row(r), &act);
                        assert_eq!(
                            got.to_bits(),
                            want.to_bits(),
                            "{} {dtype} cols {cols} row {r}: {got} vs {want}",
                            k.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn simd_tables_agree_on_arbitrary_block_bytes() {
    // Blocks straight from random bytes (any nibble, any scale byte, -128 in Q8_0) with small
    // finite f16 scales: the kernels must not rely on what our quantizer happens to produce.
    let all = tables();
    let mut rng = Rng(77);
    for dtype in [GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K] {
        for cols in row_lengths(dtype) {
            let rb = reasoner_model::quant::row_bytes(dtype, cols).unwrap();
            let mut bytes: Vec<u8> = (0..rb).map(|_| (rng.next() * 128.0 + 128.0) as u8).collect();
            let scale_at: &[usize] = match dtype {
                GgmlType::Q4K => &[0, 2],
                GgmlType::Q6K => &[208],
                _ => &[0],
            };
            for block in bytes.chunks_exact_mut(dtype.type_size()) {
                for &at in scale_at {
                    let d = half::f16::from_f32(rng.next() * 0.01).to_bits().to_le_bytes();
                    block[at..at + 2].copy_from_slice(&d);
                }
            }
            let x = rng.vec(cols, 1.0);
            let act = Activation::for_weights(dtype, &x);
            let want = all[0].row_dot(dtype, &bytes, &act);
            for k in &all[1..] {
                assert_eq!(k.row_dot(dtype, &bytes, &act).to_bits(), want.to_bits(), "{} {dtype} cols {cols}", k.name);
            }
        }
    }
}

#[test]
fn matvec_matches_dequantized_f32_dot() {
    let mut rng = Rng(99);
    for k in tables() {
        for dtype in TYPES {
            let (rows, cols) = (64, 1536);
            let w = QMatrix::quantize(dtype, &rng.vec(rows * cols, 0.05), rows, cols).unwrap();
            let dense = w.dequantize();
            let x = rng.vec(cols, 1.0);
            let mut out = vec![0f32; rows];
            matvec_with(k, &w, &x, &mut out);
            // Quantizing the activation to 8 bits costs about 1/254 of each |w x| term.
            let rel = match dtype {
                GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1e-5,
                _ => 1e-2,
            };
            for r in 0..rows {
                let wr = &dense[r * cols..(r + 1) * cols];
                let exact: f64 = wr.iter().zip(&x).map(|(a, b)| *a as f64 * *b as f64).sum();
                let mass: f64 = wr.iter().zip(&x).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum();
                let err = (out[r] as f64 - exact).abs();
                assert!(err <= rel * mass + 1e-6, "{} {dtype} row {r}: {} vs {exact} (mass {mass})", k.name, out[r]);
            }
        }
    }
}

#[test]
fn matmul_equals_matvec_per_row_at_any_thread_count() {
    let mut rng = Rng(5);
    let k = kernels::kernels();
    for dtype in [GgmlType::Q8_0, GgmlType::Q4K, GgmlType::Q6K, GgmlType::F16] {
        // Large enough (> 256 KiB of weights) to take the parallel path.
        let (rows, cols, batch) = (520, 1024, 5);
        let w = QMatrix::quantize(dtype, &rng.vec(rows * cols, 0.05), rows, cols).unwrap();
        let x = rng.vec(batch * cols, 1.0);
        let mut want = vec![0f32; batch * rows];
        for b in 0..batch {
            matvec_with(k, &w, &x[b * cols..(b + 1) * cols], &mut want[b * rows..(b + 1) * rows]);
        }
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut got = vec![0f32; batch * rows];
            pool.install(|| matmul_with(k, &w, &x, &mut got));
            assert_eq!(got, want, "{dtype} matmul with {threads} threads");
            let mut one = vec![0f32; rows];
            pool.install(|| matvec_with(k, &w, &x[..cols], &mut one));
            assert_eq!(one, want[..rows], "{dtype} matvec with {threads} threads");
        }
    }
}

#[test]
fn k_quant_rows_need_whole_super_blocks() {
    assert!(QMatrix::quantize(GgmlType::Q4K, &[0.0; 896], 1, 896).is_err());
    assert!(QMatrix::quantize(GgmlType::Q8_0, &[0.0; 896], 1, 896).is_ok());
}
