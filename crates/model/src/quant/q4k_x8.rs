//! Q4_K weights interleaved eight rows at a time ("Q4_K×8"), the in-memory form a Q4_K linear
//! weight takes for decode. The idea is llama.cpp's repacked `block_q4_Kx8`: one activation
//! value is multiplied into eight rows by one instruction, and the eight rows' sub-block sums
//! stay in 16-bit lanes until one multiply by their scales per 32 values, so a row costs about
//! half the instructions of the row-at-a-time kernel (which is compute-bound at 2 threads).
//! The byte order is our own, chosen so that no shuffle is needed in the inner loop:
//!
//! for each group of 8 rows, for each 256-value super-block, 1152 bytes (= 8 × 144, the same
//! bytes as the 8 rows' Q4_K blocks, moved):
//!
//! | offset | bytes | content |
//! |--------|-------|---------|
//! | 0      | 16    | d of rows 0..8 (f16) |
//! | 16     | 16    | dmin of rows 0..8 (f16) |
//! | 32     | 96    | packed 6-bit scales: byte k of row r at 32 + 8k + r (k = 0..12) |
//! | 128    | 1024  | nibbles: sub-block pair p, 4-byte chunk c, row r at 128 + 256p + 32c + 4r |
//!
//! Within a pair p, byte i of a row's 32 holds value i of sub-block 2p (low nibble) and value i
//! of sub-block 2p + 1 (high nibble), as in Q4_K itself.

use rayon::prelude::*;

use super::float::f16_to_f32;
use super::k_quants::{dequantize_row_q4_k, quantize_row_q8_k, scale_min_k4, BlockQ8K, BLOCK_Q4_K};
use super::{QuantError, QK_K};

/// Rows per interleaved group.
pub const ROWS: usize = 8;
const GROUP_BLOCK: usize = ROWS * BLOCK_Q4_K;
const DMIN: usize = 16;
const SCALES: usize = 32;
const QS: usize = 128;

/// A Q4_K matrix in the eight-row interleaved layout. Rows must be a multiple of 8.
#[derive(Clone)]
pub struct Q4KX8 {
    pub rows: usize,
    pub cols: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for Q4KX8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Q4KX8({}x{})", self.rows, self.cols)
    }
}

/// Σ of the activation over each 32-value sub-block, two per i32 (low half sub-block 2p, high
/// half 2p + 1), ready to be multiplied with the mins of sub-block pair p.
type PairSums = [i32; 4];

fn pair_sums(a: &BlockQ8K) -> PairSums {
    let s = |j: usize| (a.bsums[2 * j] + a.bsums[2 * j + 1]) as u16 as u32;
    std::array::from_fn(|p| (s(2 * p) | (s(2 * p + 1) << 16)) as i32)
}

/// One group's dot products with one activation row: out[r] for rows r of the group.
type GroupDot = unsafe fn(&[u8], &[BlockQ8K], &[PairSums], &mut [f32; ROWS]);

/// The same for four activation rows at once: each weight vector is unpacked once and used
/// four times (prefill). Results equal four `GroupDot` calls bit for bit.
type GroupDot4 = unsafe fn(&[u8], [&[BlockQ8K]; 4], [&[PairSums]; 4], &mut [[f32; ROWS]; 4]);

/// A group kernel pair for one instruction set.
#[derive(Clone, Copy)]
struct GroupKernels {
    one: GroupDot,
    four: GroupDot4,
}

const SCALAR: GroupKernels = GroupKernels { one: group_dot_scalar, four: group_dot4_scalar };

impl Q4KX8 {
    /// Whether a `rows x cols` Q4_K matrix can take this layout.
    pub fn fits(rows: usize, cols: usize) -> bool {
        rows > 0 && rows % ROWS == 0 && cols > 0 && cols % QK_K == 0
    }

    /// Interleaves a row-major Q4_K matrix (`rows` rows of `cols / 256` blocks).
    pub fn from_rows(data: &[u8], rows: usize, cols: usize) -> Result<Self, QuantError> {
        let dtype = super::GgmlType::Q4K;
        let nb = cols / QK_K;
        if !Self::fits(rows, cols) || data.len() != rows * nb * BLOCK_Q4_K {
            let expected = rows * nb * BLOCK_Q4_K;
            return Err(QuantError::WrongSize { dtype, rows, cols, got: data.len(), expected });
        }
        let rb = nb * BLOCK_Q4_K;
        let mut out = vec![0u8; data.len()];
        out.par_chunks_mut(nb * GROUP_BLOCK).enumerate().for_each(|(g, dst)| {
            for (b, blk) in dst.chunks_exact_mut(GROUP_BLOCK).enumerate() {
                for r in 0..ROWS {
                    let src = &data[(g * ROWS + r) * rb + b * BLOCK_Q4_K..][..BLOCK_Q4_K];
                    interleave_row(src, r, blk);
                }
            }
        });
        Ok(Self { rows, cols, data: out })
    }

    pub fn n_bytes(&self) -> usize {
        self.data.len()
    }

    fn n_blocks(&self) -> usize {
        self.cols / QK_K
    }

    fn group(&self, g: usize) -> &[u8] {
        let gb = self.n_blocks() * GROUP_BLOCK;
        &self.data[g * gb..(g + 1) * gb]
    }

    /// Row `r` back in plain Q4_K bytes.
    pub fn row_bytes(&self, r: usize) -> Vec<u8> {
        let mut out = vec![0u8; self.n_blocks() * BLOCK_Q4_K];
        let group = self.group(r / ROWS);
        for (blk, dst) in group.chunks_exact(GROUP_BLOCK).zip(out.chunks_exact_mut(BLOCK_Q4_K)) {
            deinterleave_row(blk, r % ROWS, dst);
        }
        out
    }

    /// Dequantizes row `r` into `out` (`cols` values).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        dequantize_row_q4_k(&self.row_bytes(r), out)
    }

    /// The whole matrix as row-major f32.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        out.par_chunks_mut(self.cols).enumerate().for_each(|(r, o)| self.dequantize_row(r, o));
        out
    }

    /// `out[b] = W x[b]` for `x` of shape (batch, cols) and `out` (batch, rows), with the fastest
    /// group kernel this CPU has. Activations are quantized to Q8_K, as for every K-quant.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) {
        self.matmul_with(best_kernels(), x, out)
    }

    /// `matmul` with the plain reference kernel (tests compare the SIMD one against it).
    pub fn matmul_scalar(&self, x: &[f32], out: &mut [f32]) {
        self.matmul_with(SCALAR, x, out)
    }

    fn matmul_with(&self, k: GroupKernels, x: &[f32], out: &mut [f32]) {
        let (rows, cols, nb) = (self.rows, self.cols, self.n_blocks());
        let batch = x.len() / cols;
        assert_eq!(batch * cols, x.len(), "Q4_K×8 matmul: x length {} is not a multiple of {cols}", x.len());
        assert_eq!(out.len(), batch * rows, "Q4_K×8 matmul: out has {} values, expected {}", out.len(), batch * rows);
        let quantize = |xb: &[f32]| {
            let mut blocks = vec![BlockQ8K::default(); nb];
            quantize_row_q8_k(xb, &mut blocks);
            let sums: Vec<PairSums> = blocks.iter().map(pair_sums).collect();
            (blocks, sums)
        };
        let acts: Vec<(Vec<BlockQ8K>, Vec<PairSums>)> = if batch == 1 {
            vec![quantize(x)]
        } else {
            x.par_chunks_exact(cols).map(quantize).collect()
        };
        let groups = rows / ROWS;
        // Results as (group, batch, 8); each task takes a run of groups and the whole batch,
        // so a group's weights are read from memory once and reused from cache for every row.
        let mut by_group = vec![0f32; rows * batch];
        let run = |first: usize, chunk: &mut [f32]| {
            for (i, gout) in chunk.chunks_exact_mut(batch * ROWS).enumerate() {
                let group = self.group(first + i);
                let mut rest = gout;
                let mut t = 0;
                // SAFETY (both calls): `best_kernels` only hands out kernels this CPU supports;
                // the group holds `nb` blocks and every activation row `nb` blocks and sums.
                while t + 4 <= batch {
                    let (o, tail) = rest.split_at_mut(4 * ROWS);
                    let mut o4 = [[0f32; ROWS]; 4];
                    let a4 = std::array::from_fn(|j| acts[t + j].0.as_slice());
                    let s4 = std::array::from_fn(|j| acts[t + j].1.as_slice());
                    unsafe { (k.four)(group, a4, s4, &mut o4) };
                    o.copy_from_slice(o4.as_flattened());
                    (rest, t) = (tail, t + 4);
                }
                for ((a, sums), o) in acts[t..].iter().zip(rest.chunks_exact_mut(ROWS)) {
                    let o: &mut [f32; ROWS] = o.try_into().expect("chunks of ROWS");
                    unsafe { (k.one)(group, a, sums, o) };
                }
            }
        };
        let threads = rayon::current_num_threads();
        if threads == 1 || self.data.len() * batch.min(4) < (256 << 10) {
            run(0, &mut by_group);
        } else {
            // About four tasks per thread, at least 64 KiB of weights each.
            let by_threads = groups.div_ceil(threads * 4);
            let by_bytes = (64 << 10) / (nb * GROUP_BLOCK).max(1);
            let per_task = by_threads.max(by_bytes).clamp(1, groups);
            crate::parallel::for_each_chunk_mut(&mut by_group, per_task * batch * ROWS, |c, chunk| run(c * per_task, chunk));
        }
        for (g, gvals) in by_group.chunks_exact(batch * ROWS).enumerate() {
            for (b, vals) in gvals.chunks_exact(ROWS).enumerate() {
                out[b * rows + g * ROWS..b * rows + (g + 1) * ROWS].copy_from_slice(vals);
            }
        }
    }
}

/// Moves one row's Q4_K block into its slots of a group block.
fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
    blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
    blk[DMIN + 2 * r..DMIN + 2 * r + 2].copy_from_slice(&src[2..4]);
    for k in 0..12 {
        blk[SCALES + 8 * k + r] = src[4 + k];
    }
    for p in 0..4 {
        for c in 0..8 {
            let at = QS + 256 * p + 32 * c + 4 * r;
            blk[at..at + 4].copy_from_slice(&src[16 + 32 * p + 4 * c..][..4]);
        }
    }
}

/// The inverse of `interleave_row`.
fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
    dst[0..2].copy_from_slice(&blk[2 * r..2 * r + 2]);
    dst[2..4].copy_from_slice(&blk[DMIN + 2 * r..DMIN + 2 * r + 2]);
    for k in 0..12 {
        dst[4 + k] = blk[SCALES + 8 * k + r];
    }
    for p in 0..4 {
        for c in 0..8 {
            let at = QS + 256 * p + 32 * c + 4 * r;
            dst[16 + 32 * p + 4 * c..][..4].copy_from_slice(&blk[at..at + 4]);
        }
    }
}

/// The reference group kernel. Per row and super-block: exact integer sums, then
/// acc += sumi·(d·d_a) and acc_min += summ·(dmin·d_a) as fused multiply-adds, and
/// acc − acc_min at the end, the order the SIMD kernel follows lane by lane.
unsafe fn group_dot_scalar(group: &[u8], a: &[BlockQ8K], sums: &[PairSums], out: &mut [f32; ROWS]) {
    let (mut acc, mut acc_min) = ([0f32; ROWS], [0f32; ROWS]);
    for ((blk, ab), ps) in group.chunks_exact(GROUP_BLOCK).zip(a).zip(sums) {
        for r in 0..ROWS {
            let packed: [u8; 12] = std::array::from_fn(|k| blk[SCALES + 8 * k + r]);
            let (mut sumi, mut summ) = (0i32, 0i32);
            for j in 0..8 {
                let (sc, m) = scale_min_k4(j, &packed);
                let (p, high) = (j / 2, j % 2 == 1);
                let mut s = 0i32;
                for i in 0..32 {
                    let byte = blk[QS + 256 * p + 32 * (i / 4) + 4 * r + i % 4];
                    let q = if high { byte >> 4 } else { byte & 0x0F };
                    s += q as i32 * ab.qs[32 * j + i] as i32;
                }
                sumi += sc as i32 * s;
                let ysum = (ps[p] >> (16 * (j % 2))) as i16 as i32;
                summ += m as i32 * ysum;
            }
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            let dmin = f16_to_f32(u16::from_le_bytes([blk[DMIN + 2 * r], blk[DMIN + 2 * r + 1]]));
            acc[r] = (sumi as f32).mul_add(d * ab.d, acc[r]);
            acc_min[r] = (summ as f32).mul_add(dmin * ab.d, acc_min[r]);
        }
    }
    for r in 0..ROWS {
        out[r] = acc[r] - acc_min[r];
    }
}

/// Four reference group dots, one per activation row.
unsafe fn group_dot4_scalar(group: &[u8], a: [&[BlockQ8K]; 4], sums: [&[PairSums]; 4], out: &mut [[f32; ROWS]; 4]) {
    for t in 0..4 {
        unsafe { group_dot_scalar(group, a[t], sums[t], &mut out[t]) };
    }
}

/// The fastest group kernels this CPU runs (AVX2+FMA+F16C, else scalar), chosen once.
fn best_kernels() -> GroupKernels {
    static CHOSEN: std::sync::OnceLock<GroupKernels> = std::sync::OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let scalar_only = std::env::var("REASONER_KERNELS").as_deref() == Ok("scalar");
        #[cfg(target_arch = "x86_64")]
        if !scalar_only && avx2::available() {
            return avx2::KERNELS;
        }
        let _ = scalar_only;
        SCALAR
    })
}

/// Whether the SIMD group kernel runs here (tests skip the comparison when not).
pub fn has_simd_kernel() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `matmul` with the SIMD kernel; None when this CPU lacks it.
pub fn matmul_simd(w: &Q4KX8, x: &[f32], out: &mut [f32]) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        w.matmul_with(avx2::KERNELS, x, out);
        return Some(());
    }
    let _ = (w, x, out);
    None
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{PairSums, BlockQ8K, DMIN, GROUP_BLOCK, QS, ROWS, SCALES};
    use std::arch::x86_64::*;

    pub(super) fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
    }

    /// Scales of sub-block j (bytes 8j'..8j'+8 of `half`, j' = j mod 2) in i16 lane pairs
    /// (2r, 2r + 1), the two lanes `maddubs` leaves for row r.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn scale_pairs(half: __m128i, odd: bool) -> __m256i {
        let dup = if odd { _mm_unpackhi_epi8(half, half) } else { _mm_unpacklo_epi8(half, half) };
        _mm256_cvtepu8_epi16(dup)
    }

    pub(super) const KERNELS: super::GroupKernels = super::GroupKernels { one: group_dot, four: group_dot4 };

    /// The 64 scales and 64 mins of a group block's 8 rows, unpacked from their 6-bit form
    /// (see `scale_min_k4`) all at once: `sc[h][i]` holds sub-blocks 4h + 2i, 4h + 2i + 1 as
    /// bytes 8j' + r; `mn` likewise.
    struct Unpacked {
        sc: [[__m128i; 2]; 2],
        mn: [[__m128i; 2]; 2],
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn unpack_scales(blk: *const u8) -> Unpacked {
        let (m4, m3f, m30) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x3F), _mm256_set1_epi8(0x30));
        let ld = |off: usize| unsafe { _mm256_loadu_si256(blk.add(off) as *const __m256i) };
        let (q0, q4, q8) = (ld(SCALES), ld(SCALES + 32), ld(SCALES + 64));
        let sc_lo = _mm256_and_si256(q0, m3f);
        let mn_lo = _mm256_and_si256(q4, m3f);
        let sc_hi = _mm256_or_si256(_mm256_and_si256(q8, m4), _mm256_and_si256(_mm256_srli_epi16(q0, 2), m30));
        let mn_hi = _mm256_or_si256(
            _mm256_and_si256(_mm256_srli_epi16(q8, 4), m4),
            _mm256_and_si256(_mm256_srli_epi16(q4, 2), m30),
        );
        let halves = |v: __m256i| [_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v)];
        Unpacked { sc: [halves(sc_lo), halves(sc_hi)], mn: [halves(mn_lo), halves(mn_hi)] }
    }

    /// Mins of sub-blocks 2p, 2p + 1 as i16 lane pairs (2r, 2r + 1), to `madd` with PairSums.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn min_pairs(u: &Unpacked, p: usize) -> __m256i {
        // Interleaves the low and high 8 bytes of a 16-byte half.
        let pair_bytes = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(u.mn[p / 2][p % 2], pair_bytes))
    }

    /// 32-bit broadcast of activation bytes `at..at + 4`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn bcast4(y: &[i8; 256], at: usize) -> __m256i {
        _mm256_set1_epi32(i32::from_le_bytes([y[at] as u8, y[at + 1] as u8, y[at + 2] as u8, y[at + 3] as u8]))
    }

    /// acc += sumi·(d·d_a), acc_min += summ·(dmin·d_a) for one super-block of 8 rows.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn accumulate(blk: *const u8, a_d: f32, sumi: __m256i, summ: __m256i, acc: &mut __m256, acc_min: &mut __m256) {
        let dw = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(blk as *const __m128i) });
        let dmw = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(blk.add(DMIN) as *const __m128i) });
        let da = _mm256_set1_ps(a_d);
        *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_mul_ps(dw, da), *acc);
        *acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dmw, da), *acc_min);
    }

    /// # Safety
    /// The CPU must have AVX2, FMA and F16C; `group` must hold `a.len()` group blocks and
    /// `sums` as many entries as `a`.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn group_dot(group: &[u8], a: &[BlockQ8K], sums: &[PairSums], out: &mut [f32; ROWS]) {
        assert!(group.len() >= a.len() * GROUP_BLOCK && sums.len() >= a.len());
        let m4 = _mm256_set1_epi8(0x0F);
        let (mut acc, mut acc_min) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for (b, (ab, ps)) in a.iter().zip(sums).enumerate() {
            let blk = unsafe { group.as_ptr().add(b * GROUP_BLOCK) };
            let u = unpack_scales(blk);
            let (mut sumi, mut summ) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for p in 0..4 {
                let q = unsafe { blk.add(QS + 256 * p) };
                let (mut lo16, mut hi16) = (_mm256_setzero_si256(), _mm256_setzero_si256());
                for c in 0..8 {
                    let w = unsafe { _mm256_loadu_si256(q.add(32 * c) as *const __m256i) };
                    let (lo, hi) = (_mm256_and_si256(w, m4), _mm256_and_si256(_mm256_srli_epi16(w, 4), m4));
                    // ≤ 8 · 2 · 15 · 127 = 30480 per lane: the 16-bit sums cannot overflow.
                    lo16 = _mm256_add_epi16(lo16, _mm256_maddubs_epi16(lo, bcast4(&ab.qs, 64 * p + 4 * c)));
                    hi16 = _mm256_add_epi16(hi16, _mm256_maddubs_epi16(hi, bcast4(&ab.qs, 64 * p + 32 + 4 * c)));
                }
                let half = u.sc[p / 2][p % 2];
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(lo16, scale_pairs(half, false)));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(hi16, scale_pairs(half, true)));
                summ = _mm256_add_epi32(summ, _mm256_madd_epi16(min_pairs(&u, p), _mm256_set1_epi32(ps[p])));
            }
            accumulate(blk, ab.d, sumi, summ, &mut acc, &mut acc_min);
        }
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), _mm256_sub_ps(acc, acc_min)) };
    }

    /// `group_dot` for four activation rows, each unpacked weight vector used four times.
    ///
    /// # Safety
    /// As `group_dot`, for each of the four rows.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn group_dot4(group: &[u8], a: [&[BlockQ8K]; 4], sums: [&[PairSums]; 4], out: &mut [[f32; ROWS]; 4]) {
        let nb = a[0].len();
        assert!(group.len() >= nb * GROUP_BLOCK && (0..4).all(|t| a[t].len() == nb && sums[t].len() >= nb));
        let m4 = _mm256_set1_epi8(0x0F);
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut acc_min = [_mm256_setzero_ps(); 4];
        for b in 0..nb {
            let blk = unsafe { group.as_ptr().add(b * GROUP_BLOCK) };
            let u = unpack_scales(blk);
            let y: [&[i8; 256]; 4] = std::array::from_fn(|t| &a[t][b].qs);
            let mut sumi = [_mm256_setzero_si256(); 4];
            let mut summ = [_mm256_setzero_si256(); 4];
            for p in 0..4 {
                let q = unsafe { blk.add(QS + 256 * p) };
                let mut lo16 = [_mm256_setzero_si256(); 4];
                let mut hi16 = [_mm256_setzero_si256(); 4];
                for c in 0..8 {
                    let w = unsafe { _mm256_loadu_si256(q.add(32 * c) as *const __m256i) };
                    let (lo, hi) = (_mm256_and_si256(w, m4), _mm256_and_si256(_mm256_srli_epi16(w, 4), m4));
                    for t in 0..4 {
                        lo16[t] = _mm256_add_epi16(lo16[t], _mm256_maddubs_epi16(lo, bcast4(y[t], 64 * p + 4 * c)));
                        hi16[t] = _mm256_add_epi16(hi16[t], _mm256_maddubs_epi16(hi, bcast4(y[t], 64 * p + 32 + 4 * c)));
                    }
                }
                let half = u.sc[p / 2][p % 2];
                let (sl, sh, mins) = (scale_pairs(half, false), scale_pairs(half, true), min_pairs(&u, p));
                for t in 0..4 {
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(lo16[t], sl));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(hi16[t], sh));
                    summ[t] = _mm256_add_epi32(summ[t], _mm256_madd_epi16(mins, _mm256_set1_epi32(sums[t][b][p])));
                }
            }
            for t in 0..4 {
                accumulate(blk, a[t][b].d, sumi[t], summ[t], &mut acc[t], &mut acc_min[t]);
            }
        }
        for t in 0..4 {
            unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), _mm256_sub_ps(acc[t], acc_min[t])) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::{kernels, GgmlType, QMatrix};

    fn matrix(rows: usize, cols: usize, seed: usize) -> QMatrix<'static> {
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((((i + seed) * 2654435761) >> 7) % 2001) as f32 * 1e-3 - 1.0 + ((i % 97) as f32 * 0.01))
            .collect();
        QMatrix::quantize(GgmlType::Q4K, &w, rows, cols).unwrap()
    }

    fn acts(batch: usize, cols: usize) -> Vec<f32> {
        (0..batch * cols).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5 + if i % 61 == 0 { 3.0 } else { 0.0 }).collect()
    }

    #[test]
    fn interleaving_moves_bytes_and_back() {
        let m = matrix(16, 512, 1);
        let x8 = Q4KX8::from_rows(&m.data, 16, 512).unwrap();
        assert_eq!(x8.n_bytes(), m.data.len());
        let rb = m.row_bytes();
        for r in 0..16 {
            assert_eq!(x8.row_bytes(r), &m.data[r * rb..(r + 1) * rb], "row {r}");
        }
        assert_eq!(x8.dequantize(), m.dequantize());
    }

    #[test]
    fn refuses_shapes_it_cannot_hold() {
        let m = matrix(8, 256, 0);
        assert!(Q4KX8::from_rows(&m.data[..100], 8, 256).is_err());
        assert!(!Q4KX8::fits(12, 256));
        assert!(!Q4KX8::fits(8, 100));
    }

    /// The reference group kernel equals the row-at-a-time Q4_K kernel up to float order.
    #[test]
    fn scalar_group_kernel_matches_row_kernel() {
        let (rows, cols, batch) = (24, 1024, 3);
        let m = matrix(rows, cols, 7);
        let x8 = Q4KX8::from_rows(&m.data, rows, cols).unwrap();
        let x = acts(batch, cols);
        let mut got = vec![0f32; batch * rows];
        x8.matmul_scalar(&x, &mut got);
        let mut want = vec![0f32; batch * rows];
        let scalar = kernels::available()[0];
        assert_eq!(scalar.name, "scalar");
        kernels::matmul_with(scalar, &m, &x, &mut want);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "output {i}: {g} vs {w}");
        }
    }

    /// The SIMD kernel equals the reference bit for bit.
    #[test]
    fn simd_group_kernel_equals_scalar() {
        if !has_simd_kernel() {
            eprintln!("no AVX2 here: skipped");
            return;
        }
        for (rows, cols, batch) in [(8, 256, 1), (32, 2048, 1), (16, 768, 5), (8, 512, 8)] {
            let m = matrix(rows, cols, rows + cols);
            let x8 = Q4KX8::from_rows(&m.data, rows, cols).unwrap();
            let x = acts(batch, cols);
            let (mut s, mut v) = (vec![0f32; batch * rows], vec![0f32; batch * rows]);
            x8.matmul_scalar(&x, &mut s);
            matmul_simd(&x8, &x, &mut v).unwrap();
            assert_eq!(s, v, "{rows}x{cols} batch {batch}");
        }
    }
}
