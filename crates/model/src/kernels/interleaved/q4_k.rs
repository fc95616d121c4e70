//! Q4_K×8: eight rows' Q4_K super-blocks side by side. Per group of 8 rows and 256-value
//! super-block, 1152 bytes (= 8 × 144):
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

use super::{GroupKernels, PairSums, ROWS, four_of};
use crate::quant::float::f16_to_f32;
use crate::quant::k_quants::{BLOCK_Q4_K, BlockQ8K, scale_min_k4};

const GROUP_BLOCK: usize = ROWS * BLOCK_Q4_K;
const DMIN: usize = 16;
const SCALES: usize = 32;
const QS: usize = 128;

pub(super) const SCALAR: GroupKernels = GroupKernels { one: group_dot_scalar, four: group_dot4_scalar };
four_of!(group_dot4_scalar, group_dot_scalar);

/// Moves one row's Q4_K block into its slots of a group block.
pub(super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
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
pub(super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
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

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::KERNELS as AVX2;
#[cfg(target_arch = "x86_64")]
pub(super) use vnni::KERNELS as VNNI;

/// The one-row (decode) and four-row (prefill) kernels, one generic body over the number of
/// activation rows, once for each instruction set: the expanding module brings `nibbles`
/// (a weight vector's low and high nibbles in `step`'s form), `step` (multiply-accumulate one
/// weight vector with one broadcast activation), `join` (two partial accumulators as one),
/// `scales` (sub-blocks 2p, 2p + 1 in `apply`'s form), `apply` and `apply_high` (accumulator of
/// low / high nibbles × scales → i32 per row).
/// Each unpacked weight vector is used for every activation row.
#[cfg(target_arch = "x86_64")]
macro_rules! group_kernels {
    ($features:literal) => {
        /// `N` activation rows at once: each weight vector is unpacked once and used for all.
        /// # Safety
        /// The CPU must have the features named; `group` must hold `nb` group blocks and every
        /// activation row `nb` blocks and sums.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn rows_dot<const N: usize>(
            group: &[u8],
            a: [&[BlockQ8K]; N],
            sums: [&[PairSums]; N],
            out: &mut [[f32; ROWS]; N],
        ) {
            let nb = a[0].len();
            assert!(group.len() >= nb * GROUP_BLOCK && (0..N).all(|t| a[t].len() == nb && sums[t].len() >= nb));
            let mut acc = [_mm256_setzero_ps(); N];
            let mut acc_min = [_mm256_setzero_ps(); N];
            for b in 0..nb {
                // SAFETY: block b < nb lies inside `group` (asserted to hold nb group blocks).
                let blk = unsafe { group.as_ptr().add(b * GROUP_BLOCK) };
                let u = unpack_scales(blk);
                let y: [&[i8; 256]; N] = std::array::from_fn(|t| &a[t][b].qs);
                let mut sumi = [_mm256_setzero_si256(); N];
                let mut summ = [_mm256_setzero_si256(); N];
                for p in 0..4 {
                    // SAFETY: part p < 4 of the 1024 interleaved quant bytes at QS lies inside the group block.
                    let q = unsafe { blk.add(QS + 256 * p) };
                    // One activation row: even and odd chunks in separate accumulators, four
                    // short dependency chains instead of two long ones. Several rows already
                    // give independent chains, and twice the accumulators would not fit the
                    // registers (prefill fell by a third when they spilled).
                    let split = if N == 1 { 2 } else { 1 };
                    let mut lo = [[_mm256_setzero_si256(); N]; 2];
                    let mut hi = [[_mm256_setzero_si256(); N]; 2];
                    for c in 0..8 {
                        // SAFETY: chunk c < 8 of part p (256 bytes) lies inside the group block.
                        let (wl, wh) = nibbles(unsafe { _mm256_loadu_si256(q.add(32 * c) as *const __m256i) });
                        for t in 0..N {
                            lo[c % split][t] = step(lo[c % split][t], wl, bcast4(y[t], 64 * p + 4 * c));
                            hi[c % split][t] = step(hi[c % split][t], wh, bcast4(y[t], 64 * p + 32 + 4 * c));
                        }
                    }
                    let (sl, sh) = scales(u.sc[p / 2][p % 2]);
                    let mins = min_pairs(&u, p);
                    for t in 0..N {
                        let (lo, hi) = (join(lo[0][t], lo[1][t]), join(hi[0][t], hi[1][t]));
                        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(apply(lo, sl), apply_high(hi, sh)));
                        summ[t] = _mm256_add_epi32(summ[t], _mm256_madd_epi16(mins, _mm256_set1_epi32(sums[t][b][p])));
                    }
                }
                for t in 0..N {
                    accumulate(blk, a[t][b].d, sumi[t], summ[t], &mut acc[t], &mut acc_min[t]);
                }
            }
            for t in 0..N {
                // SAFETY: `out[t]` holds ROWS = 8 floats, one vector.
                unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), _mm256_sub_ps(acc[t], acc_min[t])) };
            }
        }

        super::super::one_and_four!($features, &[BlockQ8K], &[PairSums]);
    };
}
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::bcast4;
    use super::{BlockQ8K, DMIN, GROUP_BLOCK, GroupKernels, PairSums, QS, ROWS, SCALES};
    use std::arch::x86_64::*;

    /// Scales of sub-block j (bytes 8j'..8j'+8 of `half`, j' = j mod 2) in i16 lane pairs
    /// (2r, 2r + 1), the two lanes `maddubs` leaves for row r.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn scale_pairs(half: __m128i, odd: bool) -> __m256i {
        let dup = if odd { _mm_unpackhi_epi8(half, half) } else { _mm_unpacklo_epi8(half, half) };
        _mm256_cvtepu8_epi16(dup)
    }

    pub(in super::super) const KERNELS: GroupKernels = GroupKernels { one: group_dot, four: group_dot4 };

    /// The 64 scales and 64 mins of a group block's 8 rows, unpacked from their 6-bit form
    /// (see `scale_min_k4`) all at once: `sc[h][i]` holds sub-blocks 4h + 2i, 4h + 2i + 1 as
    /// bytes 8j' + r; `mn` likewise.
    pub(super) struct Unpacked {
        pub(super) sc: [[__m128i; 2]; 2],
        pub(super) mn: [[__m128i; 2]; 2],
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn unpack_scales(blk: *const u8) -> Unpacked {
        let (m4, m3f, m30) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x3F), _mm256_set1_epi8(0x30));
        // SAFETY: the offsets `ld` is called with (scales and mins at SCALES, 96 bytes) lie inside the group block.
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
    pub(super) fn min_pairs(u: &Unpacked, p: usize) -> __m256i {
        // Interleaves the low and high 8 bytes of a 16-byte half.
        let pair_bytes = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(u.mn[p / 2][p % 2], pair_bytes))
    }

    /// acc += sumi·(d·d_a), acc_min += summ·(dmin·d_a) for one super-block of 8 rows.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn accumulate(
        blk: *const u8,
        a_d: f32,
        sumi: __m256i,
        summ: __m256i,
        acc: &mut __m256,
        acc_min: &mut __m256,
    ) {
        // SAFETY: every group block starts with its rows' eight f16 scales (16 bytes).
        let dw = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(blk as *const __m128i) });
        // SAFETY: the eight f16 mins sit at DMIN, inside the group block.
        let dmw = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(blk.add(DMIN) as *const __m128i) });
        let da = _mm256_set1_ps(a_d);
        *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_mul_ps(dw, da), *acc);
        *acc_min = _mm256_fmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_mul_ps(dmw, da), *acc_min);
    }

    /// One multiply-accumulate step of the four-row kernel: 16-bit pair sums (≤ 8 · 2 · 15 · 127
    /// per lane over a sub-block, no overflow).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, y))
    }

    /// The scales of sub-blocks 2p, 2p + 1 in the form `apply` takes.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn scales(half: __m128i) -> (__m256i, __m256i) {
        (scale_pairs(half, false), scale_pairs(half, true))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn apply(acc: __m256i, scale: __m256i) -> __m256i {
        _mm256_madd_epi16(acc, scale)
    }

    /// Two partial accumulators of `step` as one (16-bit pair sums: ≤ 8 · 2 · 15 · 127 in all).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn join(a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi16(a, b)
    }

    /// The low and high nibbles of 32 weight bytes as values 0..16.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn nibbles(w: __m256i) -> (__m256i, __m256i) {
        let m4 = _mm256_set1_epi8(0x0F);
        (_mm256_and_si256(w, m4), _mm256_and_si256(_mm256_srli_epi16(w, 4), m4))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn apply_high(acc: __m256i, scale: __m256i) -> __m256i {
        apply(acc, scale)
    }

    group_kernels!("avx2,fma,f16c");
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::super::bcast4;
    use super::avx2::{accumulate, min_pairs, unpack_scales};
    use super::{BlockQ8K, GROUP_BLOCK, GroupKernels, PairSums, QS, ROWS};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: GroupKernels = GroupKernels { one: group_dot, four: group_dot4 };

    /// One step: four u8·i8 products summed straight into each row's 32-bit lane.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, w, y)
    }

    /// Scales of sub-blocks 2p (low 8 bytes of the half) and 2p + 1, one i32 per row.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn scales(half: __m128i) -> (__m256i, __m256i) {
        (_mm256_cvtepu8_epi32(half), _mm256_cvtepu8_epi32(_mm_srli_si128::<8>(half)))
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn apply(acc: __m256i, scale: __m256i) -> __m256i {
        _mm256_mullo_epi32(acc, scale)
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn join(a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(a, b)
    }

    /// The low nibbles as values 0..16 and the high ones left in place (16 × value): 32-bit
    /// sums have room for the factor 16 (≤ 8 · 4 · 240 · 128 per lane), which `apply_high`
    /// takes off exactly once per sub-block instead of a shift per weight vector.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn nibbles(w: __m256i) -> (__m256i, __m256i) {
        (_mm256_and_si256(w, _mm256_set1_epi8(0x0F)), _mm256_and_si256(w, _mm256_set1_epi8(0xF0u8 as i8)))
    }

    /// `apply` for sums of high nibbles kept in place: every product is a multiple of 16, so
    /// the arithmetic shift divides exactly.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn apply_high(acc: __m256i, scale: __m256i) -> __m256i {
        _mm256_mullo_epi32(_mm256_srai_epi32::<4>(acc), scale)
    }

    group_kernels!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}
