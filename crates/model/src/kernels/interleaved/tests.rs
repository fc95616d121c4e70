//! The interleaved kernels against the row-at-a-time ones, and interleaving against its inverse.
use super::*;
use crate::kernels;
use crate::quant::QMatrix;

fn matrix(dtype: GgmlType, rows: usize, cols: usize, seed: usize) -> QMatrix<'static> {
    let w: Vec<f32> = (0..rows * cols)
        .map(|i| ((((i + seed) * 2654435761) >> 7) % 2001) as f32 * 1e-3 - 1.0 + ((i % 97) as f32 * 0.01))
        .collect();
    QMatrix::quantize(dtype, &w, rows, cols).unwrap()
}

fn acts(batch: usize, cols: usize) -> Vec<f32> {
    (0..batch * cols).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5 + if i % 61 == 0 { 3.0 } else { 0.0 }).collect()
}

const TYPES: [GgmlType; 4] = [GgmlType::Q4K, GgmlType::Q6K, GgmlType::Q5_0, GgmlType::Q8_0];

#[test]
fn interleaving_moves_bytes_and_back() {
    for dtype in TYPES {
        let m = matrix(dtype, 16, 512, 1);
        let x8 = InterleavedMatrix::from_rows(dtype, &m.data, 16, 512).unwrap();
        assert_eq!(x8.n_bytes(), m.data.len());
        let rb = m.row_bytes();
        for r in 0..16 {
            assert_eq!(x8.row_bytes(r), &m.data[r * rb..(r + 1) * rb], "{dtype} row {r}");
        }
        assert_eq!(x8.dequantize(), m.dequantize(), "{dtype}");
    }
}

#[test]
fn refuses_shapes_it_cannot_hold() {
    let m = matrix(GgmlType::Q4K, 8, 256, 0);
    assert!(InterleavedMatrix::from_rows(GgmlType::Q4K, &m.data[..100], 8, 256).is_err());
    assert!(InterleavedMatrix::from_rows(GgmlType::Q8_0, &m.data, 8, 256).is_err());
    assert!(!InterleavedMatrix::fits(GgmlType::F16, 8, 256));
    assert!(!InterleavedMatrix::fits(GgmlType::Q4K, 12, 256));
    assert!(!InterleavedMatrix::fits(GgmlType::Q6K, 8, 100));
}

/// The reference group kernels equal the row-at-a-time kernels up to float order.
#[test]
fn scalar_group_kernels_match_row_kernels() {
    let (rows, cols, batch) = (24, 1024, 3);
    for dtype in TYPES {
        let m = matrix(dtype, rows, cols, 7);
        let x8 = InterleavedMatrix::from_rows(dtype, &m.data, rows, cols).unwrap();
        let x = acts(batch, cols);
        let mut got = vec![0f32; batch * rows];
        x8.matmul_scalar(&x, &mut got);
        let mut want = vec![0f32; batch * rows];
        let scalar = kernels::available()[0];
        assert_eq!(scalar.name, "scalar");
        kernels::matmul_with(scalar, &m, &x, &mut want);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "{dtype} output {i}: {g} vs {w}");
        }
    }
}

/// Every SIMD kernel set (one and four activation rows) equals the reference bit for bit.
#[test]
fn simd_group_kernels_equal_scalar() {
    if !has_simd_kernels() {
        eprintln!("no AVX2 here: skipped");
        return;
    }
    for dtype in TYPES {
        for (rows, cols, batch) in [(8, 256, 1), (32, 2048, 1), (16, 768, 5), (8, 512, 8)] {
            let m = matrix(dtype, rows, cols, rows + cols);
            let x8 = InterleavedMatrix::from_rows(dtype, &m.data, rows, cols).unwrap();
            let x = acts(batch, cols);
            let mut s = vec![0f32; batch * rows];
            x8.matmul_scalar(&x, &mut s);
            for (i, k) in simd_kernel_sets(dtype).into_iter().enumerate() {
                let mut v = vec![0f32; batch * rows];
                x8.matmul_with(k, &x, &mut v);
                assert_eq!(s, v, "{dtype} {rows}x{cols} batch {batch}, kernel set {i}");
            }
        }
    }
}

/// Several matrices of mixed formats in one dispatch give what each gives alone, bit for
/// bit, whether split over two threads or run on one, one activation row or several.
#[test]
fn matmul_many_equals_one_at_a_time() {
    let cols = 1024;
    // Big enough together (~1.3 MB) to be split into tasks over the threads.
    let shapes =
        [(GgmlType::Q4K, 512), (GgmlType::Q6K, 64), (GgmlType::Q5_0, 256), (GgmlType::Q8_0, 8), (GgmlType::Q4K, 8)];
    let mats: Vec<InterleavedMatrix> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(dtype, rows))| {
            InterleavedMatrix::from_rows(dtype, &matrix(dtype, rows, cols, i).data, rows, cols).unwrap()
        })
        .collect();
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for batch in [1, 5] {
            let x = acts(batch, cols);
            let want: Vec<Vec<f32>> = mats
                .iter()
                .map(|m| {
                    let mut o = vec![0f32; batch * m.rows];
                    pool.install(|| m.matmul(&x, &mut o));
                    o
                })
                .collect();
            let mut got: Vec<Vec<f32>> = mats.iter().map(|m| vec![f32::NAN; batch * m.rows]).collect();
            let mut outs: Vec<&mut [f32]> = got.iter_mut().map(|o| o.as_mut_slice()).collect();
            let refs: Vec<&InterleavedMatrix> = mats.iter().collect();
            pool.install(|| InterleavedMatrix::matmul_many(&refs, &x, &mut outs));
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "matrix {i} ({}), {threads} threads, batch {batch}", mats[i].dtype);
            }
        }
    }
}
