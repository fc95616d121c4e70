//! The CPU kernels: everything that loops over weights or activations with SIMD.
//!
//! Layout: one axis, the instruction set, as in ggml's CPU backend; each kernel file holds every
//! block format. Row-at-a-time kernels (this file's dispatch; `scalar`, `avx2`, `avx512`)
//! multiply weights as stored; `gemm_avx2` is the prefill GEMM tile over the same rows;
//! `interleaved` holds weights repacked eight rows at a time (its `scalar`, `avx2`, `vnni`
//! files, one driver loop and one dispatch table). `tensor_ops`, `attention` and `activations`
//! are the fused per-token ops (RMSNorm, RoPE, softmax, SiLU, attention over the KV cache).
//! Which instruction sets this CPU has is asked of `crate::cpu::cpu_features` only.
//!
//! Row kernels. As llama.cpp does, the activation row is quantized once (Q8_0 for 32-blocks,
//! Q8_K for K-quants) and each weight row is an integer dot product. A table of row-dot kernels
//! (scalar, AVX2, AVX-512) is chosen once at run time; every table gives bit-identical results
//! (same integer sums, same float order).

pub mod activations;
pub mod attention;
mod avx2;
mod avx512;
mod gemm_avx2;
pub mod interleaved;
mod scalar;
pub mod tensor_ops;

pub use gemm_avx2::{GemmCore, available as gemm_cores};
pub use interleaved::InterleavedMatrix;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use rayon::prelude::*;

use crate::quant::k_quants::{BlockQ8K, quantize_row_q8_k};
use crate::quant::{GgmlType, QK_K, QMatrix};

/// An activation row quantized to Q8_0 with f32 scales, kept as two flat arrays so kernels can
/// load 8 scales or 64 values at once. Block `b` is `qs[32 * b..32 * b + 32]` times `d[b]`.
#[derive(Clone, Debug, Default)]
pub struct Q8Row {
    pub d: Vec<f32>,
    pub qs: Vec<i8>,
}

impl Q8Row {
    /// Symmetric 8-bit per 32 values: d = max|x| / 127, q = round(x / d). As llama.cpp's
    /// x86 `quantize_row_q8_0` does, the scale is rounded to f16 (block_q8_0 stores it so) and
    /// ties round to even, so our dot products land on llama.cpp's numbers.
    pub fn quantize(x: &[f32]) -> Self {
        let nb = x.len() / 32;
        let mut row = Q8Row { d: vec![0.0; nb], qs: vec![0; nb * 32] };
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::cpu_features().avx2_fma() {
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { quantize_q8_avx2(x, &mut row) };
            return row;
        }
        row.quantize_scalar(x);
        row
    }

    /// `quantize`'s arithmetic one value at a time (the reference the AVX2 form is tested
    /// against; the fallback elsewhere).
    fn quantize_scalar(&mut self, x: &[f32]) {
        let row = self;
        for ((xb, d), qs) in x.chunks_exact(32).zip(&mut row.d).zip(row.qs.chunks_exact_mut(32)) {
            let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
            *d = crate::quant::f16_to_f32(crate::quant::f32_to_f16(amax / 127.0));
            let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
            for (q, &v) in qs.iter_mut().zip(xb) {
                *q = round_ties_even_small(v * id) as i8;
            }
        }
    }

    pub fn n_blocks(&self) -> usize {
        self.d.len()
    }
}

/// `Q8Row::quantize` with AVX2, a block of 32 in four vectors: the same scale (rounded to f16
/// once per block, as the scalar form) and the same products rounded to nearest-even by
/// `vcvtps2dq` under the default rounding mode, so the bytes are identical. Activations are
/// quantized on the main thread before each mat-vec while the helpers wait, so this is on
/// the decode step's serial path.
/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_q8_avx2(x: &[f32], row: &mut Q8Row) {
    use std::arch::x86_64::*;
    let sign = _mm256_set1_ps(-0.0);
    for ((xb, d), qs) in x.chunks_exact(32).zip(&mut row.d).zip(row.qs.chunks_exact_mut(32)) {
        // SAFETY: xb holds 32 values and qs 32 bytes.
        unsafe {
            let v: [__m256; 4] = std::array::from_fn(|i| _mm256_loadu_ps(xb.as_ptr().add(8 * i)));
            let a = v.map(|v| _mm256_andnot_ps(sign, v));
            let m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
            let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
            let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
            let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
            *d = crate::quant::f16_to_f32(crate::quant::f32_to_f16(amax / 127.0));
            let id = _mm256_set1_ps(if amax != 0.0 { 127.0 / amax } else { 0.0 });
            let q = v.map(|v| _mm256_cvtps_epi32(_mm256_mul_ps(v, id)));
            // Packs work within 128-bit lanes: bytes come out as 0-3 8-11 4-7 12-15 (in groups
            // of four), put back in order by one permute of 32-bit groups.
            let w = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            let w = _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256(qs.as_mut_ptr() as *mut __m256i, w);
        }
    }
}

/// Round to nearest, ties to even, for |x| < 2^22 (here |x| <= 127): adding and removing 1.5·2^23
/// leaves the FPU's default rounding to do the work, in plain arithmetic the compiler vectorizes
/// (`f32::round_ties_even` becomes a libm call without SSE4.1 enabled at compile time).
#[inline(always)]
fn round_ties_even_small(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    (x + MAGIC) - MAGIC
}

/// One activation row in the form the weight type's kernel wants.
#[derive(Clone, Debug)]
pub enum Activation<'a> {
    Q8(Q8Row),
    Q8K(Vec<BlockQ8K>),
    F32(&'a [f32]),
}

impl<'a> Activation<'a> {
    /// Quantizes `x` for dot products with rows of `dtype`.
    pub fn for_weights(dtype: GgmlType, x: &'a [f32]) -> Self {
        match dtype {
            GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 => Activation::Q8(Q8Row::quantize(x)),
            GgmlType::Q4K | GgmlType::Q6K => {
                let mut blocks = vec![BlockQ8K::default(); x.len() / QK_K];
                quantize_row_q8_k(x, &mut blocks);
                Activation::Q8K(blocks)
            }
            _ => Activation::F32(x),
        }
    }
}

/// Row-dot kernels for one instruction set. Each takes one weight row's bytes and the
/// activation row; the caller guarantees the lengths agree (checked again by each kernel).
pub struct Kernels {
    pub name: &'static str,
    pub q8_0: fn(&[u8], &Q8Row) -> f32,
    pub q4_0: fn(&[u8], &Q8Row) -> f32,
    pub q5_0: fn(&[u8], &Q8Row) -> f32,
    pub q4_k: fn(&[u8], &[BlockQ8K]) -> f32,
    pub q6_k: fn(&[u8], &[BlockQ8K]) -> f32,
    pub f32: fn(&[u8], &[f32]) -> f32,
    pub f16: fn(&[u8], &[f32]) -> f32,
    pub bf16: fn(&[u8], &[f32]) -> f32,
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Kernels {
    /// Dot product of one weight row of `dtype` with a prepared activation.
    #[inline]
    pub fn row_dot(&self, dtype: GgmlType, row: &[u8], act: &Activation) -> f32 {
        match (dtype, act) {
            (GgmlType::Q8_0, Activation::Q8(a)) => (self.q8_0)(row, a),
            (GgmlType::Q4_0, Activation::Q8(a)) => (self.q4_0)(row, a),
            (GgmlType::Q5_0, Activation::Q8(a)) => (self.q5_0)(row, a),
            (GgmlType::Q4K, Activation::Q8K(a)) => (self.q4_k)(row, a),
            (GgmlType::Q6K, Activation::Q8K(a)) => (self.q6_k)(row, a),
            (GgmlType::F32, Activation::F32(x)) => (self.f32)(row, x),
            (GgmlType::F16, Activation::F32(x)) => (self.f16)(row, x),
            (GgmlType::BF16, Activation::F32(x)) => (self.bf16)(row, x),
            (dtype, _) => panic!("no kernel for {dtype} with this activation"),
        }
    }
}

/// Every kernel table this CPU can run, scalar first.
pub fn available() -> Vec<&'static Kernels> {
    let mut out = vec![&scalar::KERNELS];
    out.extend(avx2::detect());
    out.extend(avx512::detect());
    out
}

/// The table to use: the one named by `REASONER_KERNELS` (scalar, avx2, avx512) when this CPU
/// can run it, else AVX2, else scalar. AVX-512 is opt-in: on Zen 4 (double-pumped 512-bit
/// units) it measured slower than AVX2 in benches/quant_matvec.rs. Chosen once per process.
pub fn kernels() -> &'static Kernels {
    static CHOSEN: OnceLock<&'static Kernels> = OnceLock::new();
    CHOSEN.get_or_init(|| {
        let all = available();
        let wanted = std::env::var("REASONER_KERNELS").ok();
        wanted
            .and_then(|w| all.iter().copied().find(|k| k.name == w))
            .or_else(|| all.iter().copied().find(|k| k.name == "avx2"))
            .unwrap_or(&scalar::KERNELS)
    })
}

/// Below this many weight bytes a mat-vec runs on the calling thread.
const PARALLEL_MIN_BYTES: usize = 256 << 10;

fn rows_per_task(w: &QMatrix) -> usize {
    crate::cpu::parallel::units_per_task(w.rows, w.row_bytes())
}

/// `out = W x` for one activation row, on the current rayon pool.
pub fn matvec(w: &QMatrix, x: &[f32], out: &mut [f32]) {
    matvec_with(kernels(), w, x, out)
}

/// `matvec` with a given kernel table (tests compare tables through this).
pub fn matvec_with(k: &Kernels, w: &QMatrix, x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), w.cols, "matvec: x has {} values, {} {}x{} needs {}", x.len(), w.dtype, w.rows, w.cols, w.cols);
    assert_eq!(out.len(), w.rows, "matvec: out has {} values for {} rows", out.len(), w.rows);
    let act = Activation::for_weights(w.dtype, x);
    let rb = w.row_bytes();
    let run = |first_row: usize, out: &mut [f32]| {
        for (i, o) in out.iter_mut().enumerate() {
            let r = first_row + i;
            *o = k.row_dot(w.dtype, &w.data[r * rb..(r + 1) * rb], &act);
        }
    };
    if w.data.len() < PARALLEL_MIN_BYTES || rayon::current_num_threads() == 1 {
        run(0, out);
    } else {
        let chunk = rows_per_task(w);
        crate::cpu::parallel::for_each_chunk_mut(out, chunk, |c, o| run(c * chunk, o));
    }
}

/// `out[b] = W x[b]` for a small batch of activation rows: `x` is `(batch, cols)` row-major and
/// `out` is `(batch, rows)`. Each task takes a band of weight rows and runs the whole batch
/// over it a few activation rows at a time, so weight bytes are read from memory once.
pub fn matmul(w: &QMatrix, x: &[f32], out: &mut [f32]) {
    matmul_with(kernels(), w, x, out)
}

/// Quantized activation bytes a batch tile may take: the tile stays in L2 while each weight
/// row, read once from memory, is run against every activation row in it.
const BATCH_TILE_BYTES: usize = 512 << 10;

pub fn matmul_with(k: &Kernels, w: &QMatrix, x: &[f32], out: &mut [f32]) {
    let batch = x.len().checked_div(w.cols).unwrap_or(0);
    assert_eq!(batch * w.cols, x.len(), "matmul: x length {} is not a multiple of {}", x.len(), w.cols);
    assert_eq!(out.len(), batch * w.rows, "matmul: out has {} values, expected {}", out.len(), batch * w.rows);
    if batch == 1 {
        return matvec_with(k, w, x, out);
    }
    let acts: Vec<Activation> = x.chunks_exact(w.cols.max(1)).map(|xb| Activation::for_weights(w.dtype, xb)).collect();
    let rb = w.row_bytes();
    let tile = (BATCH_TILE_BYTES / (w.cols + w.cols / 8).max(1)).clamp(1, batch);
    // Results land row-major by weight row first ((rows, batch)), then are transposed.
    let mut by_row = vec![0f32; w.rows * batch];
    let run = |first_row: usize, band: &mut [f32]| {
        let n_rows = band.len() / batch;
        for b0 in (0..batch).step_by(tile) {
            let b1 = (b0 + tile).min(batch);
            for i in 0..n_rows {
                let r = first_row + i;
                let row = &w.data[r * rb..(r + 1) * rb];
                for (b, act) in acts.iter().enumerate().take(b1).skip(b0) {
                    band[i * batch + b] = k.row_dot(w.dtype, row, act);
                }
            }
        }
    };
    if w.data.len() * batch.min(4) < PARALLEL_MIN_BYTES || rayon::current_num_threads() == 1 {
        run(0, &mut by_row);
    } else {
        let chunk = rows_per_task(w);
        crate::cpu::parallel::for_each_chunk_mut(&mut by_row, chunk * batch, |c, band| run(c * chunk, band));
    }
    for (r, vals) in by_row.chunks_exact(batch).enumerate() {
        for (b, v) in vals.iter().enumerate() {
            out[b * w.rows + r] = *v;
        }
    }
}

/// The tiled integer GEMM core for this CPU, if it has one (see gemm_avx2.rs).
pub fn gemm_core() -> Option<GemmCore> {
    static CORE: OnceLock<Option<GemmCore>> = OnceLock::new();
    *CORE.get_or_init(gemm_avx2::detect)
}

/// 0: not decided yet (read `REASONER_INT8_PREFILL` on first use), 1: off, 2: on.
static INT8_PREFILL: AtomicU8 = AtomicU8::new(0);

/// Chooses how prefill (many rows at once) multiplies quantized weights. On (the default),
/// activations are quantized to Q8_0/Q8_K and the integer kernels run, as in decode and as
/// llama.cpp does throughout, so prefill and decode give the same numbers as llama.cpp's and
/// prefill is about 1.5x faster. Off, bands of weights are dequantized to f32 and run through
/// f32 GEMM: exact on the dequantized weights (what transformers computes on them), slower.
/// `REASONER_INT8_PREFILL=0` turns it off too.
pub fn set_int8_prefill(on: bool) {
    INT8_PREFILL.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// Whether prefill over weights of `dtype` should run the integer kernels (`matmul_tiled` or
/// `matmul`) rather than dequantize-to-f32 GEMM.
pub fn int8_prefill_for(dtype: GgmlType) -> bool {
    let mut state = INT8_PREFILL.load(Ordering::Relaxed);
    if state == 0 {
        let off = matches!(std::env::var("REASONER_INT8_PREFILL").as_deref(), Ok("0") | Ok("false") | Ok("off"));
        state = if off { 1 } else { 2 };
        let _ = INT8_PREFILL.compare_exchange(0, state, Ordering::Relaxed, Ordering::Relaxed);
        state = INT8_PREFILL.load(Ordering::Relaxed);
    }
    state == 2 && matches!(dtype, GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q4K | GgmlType::Q6K)
}

/// `matmul` for a large batch (prefill) with tiles of weight rows × activation rows, each weight
/// and activation block loaded once per tile. Results equal `matmul`'s bit for bit. Returns
/// false (leaving `out` alone) when this CPU or weight type has no tiled kernel.
pub fn matmul_tiled(w: &QMatrix, x: &[f32], out: &mut [f32]) -> bool {
    match gemm_core() {
        Some(core) => matmul_tiled_with(core, w, x, out),
        None => false,
    }
}

/// `matmul_tiled` with a given core (tests compare every core through this).
pub fn matmul_tiled_with(core: GemmCore, w: &QMatrix, x: &[f32], out: &mut [f32]) -> bool {
    let kind = match w.dtype {
        GgmlType::Q8_0 => Some(gemm_avx2::Block32::Q8_0),
        GgmlType::Q4_0 => Some(gemm_avx2::Block32::Q4_0),
        GgmlType::Q5_0 => Some(gemm_avx2::Block32::Q5_0),
        _ => None,
    };
    if !(kind.is_some() || w.dtype == GgmlType::Q4K) || !gemm_avx2::available().contains(&core) {
        return false;
    }
    let batch = x.len().checked_div(w.cols).unwrap_or(0);
    assert_eq!(batch * w.cols, x.len(), "matmul: x length {} is not a multiple of {}", x.len(), w.cols);
    assert_eq!(out.len(), batch * w.rows, "matmul: out has {} values, expected {}", out.len(), batch * w.rows);
    if batch == 0 || w.rows == 0 {
        return true;
    }
    let rb = w.row_bytes();
    let mut by_row = vec![0f32; w.rows * batch];
    let (acts, ysum128, acts_k): (Vec<Q8Row>, Vec<Vec<i32>>, Vec<Vec<BlockQ8K>>) = if kind.is_some() {
        let acts: Vec<Q8Row> = x.par_chunks_exact(w.cols).map(Q8Row::quantize).collect();
        let ysum128 = acts
            .iter()
            .map(|a| a.qs.chunks_exact(32).map(|q| 128 * q.iter().map(|&v| v as i32).sum::<i32>()).collect())
            .collect();
        (acts, ysum128, Vec::new())
    } else {
        let acts_k = x
            .par_chunks_exact(w.cols)
            .map(|xb| {
                let mut blocks = vec![BlockQ8K::default(); xb.len() / QK_K];
                quantize_row_q8_k(xb, &mut blocks);
                blocks
            })
            .collect();
        (Vec::new(), Vec::new(), acts_k)
    };
    let run = |first_row: usize, band: &mut [f32]| {
        let n = band.len() / batch;
        if let Some(kind) = kind {
            gemm_avx2::block32_band(core, kind, &w.data, rb, first_row, n, &acts, &ysum128, band);
        } else {
            gemm_avx2::q4_k_band(core, &w.data, rb, first_row, n, &acts_k, band);
        }
    };
    if rayon::current_num_threads() == 1 {
        run(0, &mut by_row);
    } else {
        let chunk = rows_per_task(w).next_multiple_of(gemm_avx2::TILE_R);
        crate::cpu::parallel::for_each_chunk_mut(&mut by_row, chunk * batch, |c, band| run(c * chunk, band));
    }
    for (r, vals) in by_row.chunks_exact(batch).enumerate() {
        for (b, v) in vals.iter().enumerate() {
            out[b * w.rows + r] = *v;
        }
    }
    true
}

/// Sums 8 float lanes in the order `hsum` of a `__m256` does, so scalar and SIMD agree.
#[inline]
pub(crate) fn sum_lanes(a: &[f32; 8]) -> f32 {
    let s = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
    (s[0] + s[2]) + (s[1] + s[3])
}

#[cfg(test)]
mod rounding_tests {
    #[test]
    fn magic_rounding_equals_round_ties_even() {
        let mut x = -130.0f32;
        while x <= 130.0 {
            assert_eq!(super::round_ties_even_small(x), x.round_ties_even(), "{x}");
            x += 0.0625;
        }
        for x in [0.5f32, 1.5, 2.5, -0.5, -2.5, 126.5, -127.5, 0.49999997] {
            assert_eq!(super::round_ties_even_small(x), x.round_ties_even(), "{x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Q8Row;

    #[test]
    fn q8_row_simd_quantize_equals_scalar() {
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        // Random blocks at several magnitudes, an all-zero block, and blocks whose products
        // land on exact halves (ties to even: 127 · k / 254 for a maximum of 1).
        let mut x: Vec<f32> = (0..32 * 40).map(|i| next() * [1e-3, 1.0, 30.0][i / 32 % 3]).collect();
        x.extend([0.0f32; 32]);
        x.extend((0..32).map(|k| if k == 0 { 1.0 } else { k as f32 / 254.0 * if k % 2 == 0 { 1.0 } else { -1.0 } }));
        let fast = Q8Row::quantize(&x);
        let mut plain = Q8Row { d: vec![0.0; fast.d.len()], qs: vec![0; fast.qs.len()] };
        plain.quantize_scalar(&x);
        assert_eq!(fast.d, plain.d);
        assert_eq!(fast.qs, plain.qs);
        assert!(
            plain.qs[plain.qs.len() - 32..].iter().any(|&q| q % 2 != 0),
            "the tie block should hold odd and even values"
        );
    }
}
