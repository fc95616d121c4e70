use reasoner_model::quant::kernels::{self, matvec_with};
use reasoner_model::quant::{GgmlType, QMatrix};
use std::time::Instant;
#[test]
fn tmp_bench() {
    let (rows, cols) = (1536, 8960);
    let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 2654435761usize >> 7) % 2001) as f32 * 1e-5 - 0.01).collect();
    let m = QMatrix::quantize(GgmlType::Q4K, &w, rows, cols).unwrap();
    let x: Vec<f32> = (0..cols).map(|i| (i % 1000) as f32 * 1e-3).collect();
    let mut out = vec![0f32; rows];
    let k = kernels::available()[1];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    for _ in 0..3 { pool.install(|| {
        let mut best = 1e9f64;
        for _ in 0..200 { let t = Instant::now(); matvec_with(k, &m, &x, &mut out); best = best.min(t.elapsed().as_secs_f64()); }
        println!("{}: {:.1} GB/s out0 {}", k.name, m.data.len() as f64 / best / 1e9, out[0]);
    }); }
}
