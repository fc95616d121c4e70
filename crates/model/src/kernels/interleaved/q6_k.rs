//! Q6_K×8: eight rows' Q6_K super-blocks side by side. Per group of 8 rows and 256-value
//! super-block, 1680 bytes (= 8 × 210):
//!
//! | offset | bytes | content |
//! |--------|-------|---------|
//! | 0      | 16    | d of rows 0..8 (f16) |
//! | 16     | 128   | the 16 signed scales: scale j of row r at 16 + 8j + r |
//! | 144    | 1536  | 96 bytes per half n and 4-byte chunk c, at 144 + 768n + 96c: low nibbles of part h = 0, 1 (row r's ql[64n + 32h + 4c ..][..4] at + 32h + 4r), then high bits (row r's qh[32n + 4c ..][..4] at + 64 + 4r) |
//!
//! Value l of chunk c (l = 4c + i) in half n gives four weights, as in Q6_K itself: position
//! 128n + l from ql part 0's low nibble and qh bits 0-1, position 128n + l + 32 from part 1's
//! low nibble and bits 2-3, 128n + l + 64 from part 0's high nibble and bits 4-5, and
//! 128n + l + 96 from part 1's high nibble and bits 6-7; all minus 32.
//! Weight position p has scale p / 16, which is also its Q8_K `bsums` index. The kernel reads
//! the chunks in address order: with the three streams (two of ql, one of qh) kept apart, as
//! in Q6_K itself, the hardware prefetcher fell behind and cold mat-vecs ran at a third of the
//! speed.

use super::{GroupKernels, PairSums, ROWS, four_of};
use crate::quant::float::f16_to_f32;
use crate::quant::k_quants::{BLOCK_Q6_K, BlockQ8K, q6_k_value};

const GROUP_BLOCK: usize = ROWS * BLOCK_Q6_K;
const SCALES: usize = 16;
const QS: usize = 144;

/// Offset of half n, chunk c's 96 bytes; part h (0, 1) of ql at +32h, qh at +64.
const fn chunk(n: usize, c: usize) -> usize {
    QS + 768 * n + 96 * c
}

pub(super) const SCALAR: GroupKernels = GroupKernels { one: group_dot_scalar, four: group_dot4_scalar };
four_of!(group_dot4_scalar, group_dot_scalar);

/// Moves one row's Q6_K block into its slots of a group block.
pub(super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
    blk[2 * r..2 * r + 2].copy_from_slice(&src[208..210]);
    for j in 0..16 {
        blk[SCALES + 8 * j + r] = src[192 + j];
    }
    for n in 0..2 {
        for c in 0..8 {
            for h in 0..2 {
                let at = chunk(n, c) + 32 * h + 4 * r;
                blk[at..at + 4].copy_from_slice(&src[64 * n + 32 * h + 4 * c..][..4]);
            }
            let at = chunk(n, c) + 64 + 4 * r;
            blk[at..at + 4].copy_from_slice(&src[128 + 32 * n + 4 * c..][..4]);
        }
    }
}

/// The inverse of `interleave_row`.
pub(super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
    dst[208..210].copy_from_slice(&blk[2 * r..2 * r + 2]);
    for j in 0..16 {
        dst[192 + j] = blk[SCALES + 8 * j + r];
    }
    for n in 0..2 {
        for c in 0..8 {
            for h in 0..2 {
                let at = chunk(n, c) + 32 * h + 4 * r;
                dst[64 * n + 32 * h + 4 * c..][..4].copy_from_slice(&blk[at..at + 4]);
            }
            let at = chunk(n, c) + 64 + 4 * r;
            dst[128 + 32 * n + 4 * c..][..4].copy_from_slice(&blk[at..at + 4]);
        }
    }
}

/// The unsigned 6-bit value (0..64) of weight `4c + i + 32k` in half n of row r.
fn q6(blk: &[u8], r: usize, n: usize, c: usize, i: usize, k: usize) -> i32 {
    q6_k_value(blk[chunk(n, c) + 32 * (k % 2) + 4 * r + i], blk[chunk(n, c) + 64 + 4 * r + i], k)
}

/// The reference group kernel. Per row and super-block the exact integer sum
/// Σ_j scale_j · Σ (q − 32)·y (computed as Σ scale·q·y − 32 · Σ scale·bsum), then
/// acc += sumi·(d·d_a) as one fused multiply-add: the order the SIMD kernel follows.
unsafe fn group_dot_scalar(group: &[u8], a: &[BlockQ8K], _sums: &[PairSums], out: &mut [f32; ROWS]) {
    let mut acc = [0f32; ROWS];
    for (blk, ab) in group.chunks_exact(GROUP_BLOCK).zip(a) {
        for r in 0..ROWS {
            let scale = |j: usize| blk[SCALES + 8 * j + r] as i8 as i32;
            let mut sumi = 0i32;
            for n in 0..2 {
                for c in 0..8 {
                    for k in 0..4 {
                        for i in 0..4 {
                            let p = 128 * n + 32 * k + 4 * c + i;
                            sumi += scale(p / 16) * q6(blk, r, n, c, i, k) * ab.qs[p] as i32;
                        }
                    }
                }
            }
            let offset: i32 = (0..16).map(|j| scale(j) * ab.bsums[j] as i32).sum();
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            acc[r] = ((sumi - 32 * offset) as f32).mul_add(d * ab.d, acc[r]);
        }
    }
    *out = acc;
}

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::KERNELS as AVX2;
#[cfg(target_arch = "x86_64")]
pub(super) use vnni::KERNELS as VNNI;
#[cfg(target_arch = "x86_64")]
pub(super) use vnni_gfni::KERNELS as VNNI_GFNI;

/// The one-row (decode) and four-row (prefill) kernels, one generic body over the number of
/// activation rows, once for each instruction set: the expanding module brings `step`
/// (multiply-accumulate one weight vector with one broadcast activation), `FLUSH` (chunks per
/// accumulator before scaling), `scales` (scale j of the 8 rows in `apply`'s form) and `apply`
/// (accumulator × scales → i32 per row). Each unpacked weight vector is used for every
/// activation row.
#[cfg(target_arch = "x86_64")]
macro_rules! group_kernels {
    ($features:literal) => {
        /// `N` activation rows at once.
        /// # Safety
        /// The CPU must have the features named; `group` must hold `nb` group blocks and every
        /// activation row `nb` blocks.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn rows_dot<const N: usize>(
            group: &[u8],
            a: [&[BlockQ8K]; N],
            _sums: [&[PairSums]; N],
            out: &mut [[f32; ROWS]; N],
        ) {
            let nb = a[0].len();
            assert!(group.len() >= nb * GROUP_BLOCK && a.iter().all(|x| x.len() == nb));
            let mut acc = [_mm256_setzero_ps(); N];
            for b in 0..nb {
                // SAFETY: block b < nb lies inside `group` (asserted to hold nb group blocks).
                let blk = unsafe { group.as_ptr().add(b * GROUP_BLOCK) };
                let y: [&[i8; 256]; N] = std::array::from_fn(|t| &a[t][b].qs);
                let mut sumi = [_mm256_setzero_si256(); N];
                for n in 0..2 {
                    for c0 in (0..8).step_by(FLUSH) {
                        let mut part = [[_mm256_setzero_si256(); 4]; N]; // [row t][k]
                        for c in c0..c0 + FLUSH {
                            let q = unpack(blk, n, c);
                            for t in 0..N {
                                for k in 0..4 {
                                    part[t][k] = step(part[t][k], q[k], bcast4(y[t], 128 * n + 32 * k + 4 * c));
                                }
                            }
                        }
                        for k in 0..4 {
                            // Weight positions 128n + 32k + 4c.. of these chunks have scale j.
                            let sc = scales(blk, 8 * n + 2 * k + c0 / 4);
                            for t in 0..N {
                                sumi[t] = _mm256_add_epi32(sumi[t], apply(part[t][k], sc));
                            }
                        }
                    }
                }
                // SAFETY: every group block starts with its rows' eight f16 scales (16 bytes).
                let dw = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(blk as *const __m128i) });
                for t in 0..N {
                    let s = _mm256_sub_epi32(sumi[t], offsets(blk, &a[t][b]));
                    acc[t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(a[t][b].d)), acc[t]);
                }
            }
            for t in 0..N {
                // SAFETY: `out[t]` holds ROWS = 8 floats, one vector.
                unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]) };
            }
        }

        super::super::one_and_four!($features, &[BlockQ8K], &[PairSums]);
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::bcast4;
    use super::{BlockQ8K, GROUP_BLOCK, GroupKernels, PairSums, ROWS, SCALES, chunk};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: GroupKernels = GroupKernels { one: group_dot, four: group_dot4 };

    /// 32 · Σ_j scale_j · bsum_j per row: the −32 offset of every weight, taken off at once.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn offsets(blk: *const u8, a: &BlockQ8K) -> __m256i {
        // Interleaves scales j and j + 1 (bytes 0..8 and 8..16 of a 16-byte load) per row.
        let pair_bytes = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        let mut off = _mm256_setzero_si256();
        for j in (0..16).step_by(2) {
            // SAFETY: sixteen sub-block scales for eight rows (128 bytes) sit at SCALES, so SCALES + 8j + 16 ≤ SCALES + 128 for j < 16 even.
            let s = unsafe { _mm_loadu_si128(blk.add(SCALES + 8 * j) as *const __m128i) };
            let sc = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(s, pair_bytes));
            let bs = i32::from_le_bytes(std::array::from_fn(|k| (a.bsums[j + k / 2] as u16).to_le_bytes()[k % 2]));
            off = _mm256_add_epi32(off, _mm256_madd_epi16(sc, _mm256_set1_epi32(bs)));
        }
        _mm256_slli_epi32(off, 5)
    }

    /// The four unsigned 6-bit weight vectors of chunk c in half n (positions 4c.., +32, +64, +96).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn unpack(blk: *const u8, n: usize, c: usize) -> [__m256i; 4] {
        // SAFETY: the offsets `unpack` passes (low and high bits of chunk c of part n) lie inside the group block.
        let ld = |off: usize| unsafe { _mm256_loadu_si256(blk.add(off) as *const __m256i) };
        let at = chunk(n, c);
        let (a, b, h) = (ld(at), ld(at + 32), ld(at + 64));
        let m4 = _mm256_set1_epi8(0x0F);
        let m30 = _mm256_set1_epi8(0x30);
        [
            _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30)),
            _mm256_or_si256(_mm256_and_si256(b, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), m4), _mm256_and_si256(h, m30)),
            _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(b, 4), m4),
                _mm256_and_si256(_mm256_srli_epi16(h, 2), m30),
            ),
        ]
    }

    /// One multiply-accumulate step: 16-bit pair sums (≤ 2 · 2 · 63 · 127 = 32004 per lane over
    /// two chunks, no overflow).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, y))
    }

    /// Chunks summed before the scale step: two keep the 16-bit sums within range.
    const FLUSH: usize = 2;

    /// Scale j of the 8 rows in i16 lane pairs (2r, 2r + 1), the lanes `maddubs` leaves for r.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn scales(blk: *const u8, j: usize) -> __m256i {
        // SAFETY: SCALES + 8j + 8 ≤ SCALES + 128 for j < 16: inside the group block's scales.
        let s = unsafe { _mm_loadl_epi64(blk.add(SCALES + 8 * j) as *const __m128i) };
        _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s, s))
    }

    /// Accumulator × scales → i32 per row.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn apply(acc: __m256i, scale: __m256i) -> __m256i {
        _mm256_madd_epi16(acc, scale)
    }

    group_kernels!("avx2,fma,f16c");
}

/// The kernels with AVX-512 VNNI on 256-bit vectors (see q4_k.rs): each 16-value sub-block's
/// products gather in 32-bit lanes, then one multiply by the row scales.
#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::super::bcast4;
    use super::avx2::{offsets, unpack};
    use super::{BlockQ8K, GROUP_BLOCK, GroupKernels, PairSums, ROWS, SCALES};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: GroupKernels = GroupKernels { one: group_dot, four: group_dot4 };

    /// One step: four u8·i8 products summed straight into each row's 32-bit lane.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, w, y)
    }

    /// A whole 16-value sub-block (4 chunks) before the scale step.
    pub(super) const FLUSH: usize = 4;

    /// Scale j of the 8 rows, sign-extended to one i32 per row.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn scales(blk: *const u8, j: usize) -> __m256i {
        // SAFETY: SCALES + 8j + 8 ≤ SCALES + 128 for j < 16: inside the group block's scales.
        _mm256_cvtepi8_epi32(unsafe { _mm_loadl_epi64(blk.add(SCALES + 8 * j) as *const __m128i) })
    }

    /// Accumulator × scales → i32 per row.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn apply(acc: __m256i, scale: __m256i) -> __m256i {
        _mm256_mullo_epi32(acc, scale)
    }

    group_kernels!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}

/// The VNNI kernels where the CPU also has GFNI: each bit move of the unpack (a nibble down, two
/// high bits up into place) is one affine map over GF(2) instead of a shift and a mask, and
/// the or with the other part one `vpternlogd`, about half the instructions per weight vector.
#[cfg(target_arch = "x86_64")]
mod vnni_gfni {
    use super::super::{bcast4, bit_move};
    use super::avx2::offsets;
    use super::vnni::{FLUSH, apply, scales, step};
    use super::{BlockQ8K, GROUP_BLOCK, GroupKernels, PairSums, ROWS, chunk};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: GroupKernels = GroupKernels { one: group_dot, four: group_dot4 };

    /// As `avx2::unpack`: the four unsigned 6-bit weight vectors of chunk c in half n.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni,gfni")]
    #[inline]
    fn unpack(blk: *const u8, n: usize, c: usize) -> [__m256i; 4] {
        // SAFETY: the offsets `unpack` passes (low and high bits of chunk c of part n) lie inside the group block.
        let ld = |off: usize| unsafe { _mm256_loadu_si256(blk.add(off) as *const __m256i) };
        let at = chunk(n, c);
        let (a, b, h) = (ld(at), ld(at + 32), ld(at + 64));
        let mv = |v: __m256i, m: i64| _mm256_gf2p8affine_epi64_epi8::<0>(v, _mm256_set1_epi64x(m));
        // (x & mask) | y in one instruction (truth table 0xEA: A·B + C).
        let and_or = |x: __m256i, mask: i8, y: __m256i| _mm256_ternarylogic_epi32::<0xEA>(x, _mm256_set1_epi8(mask), y);
        [
            and_or(a, 0x0F, mv(h, bit_move(0, 4, 2))),
            and_or(b, 0x0F, mv(h, bit_move(2, 4, 2))),
            and_or(h, 0x30, mv(a, bit_move(4, 0, 4))),
            _mm256_or_si256(mv(b, bit_move(4, 0, 4)), mv(h, bit_move(6, 4, 2))),
        ]
    }

    group_kernels!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni,gfni");
}
