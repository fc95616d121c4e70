//! Q5_0×8: eight rows' Q5_0 blocks side by side (the type llama.cpp's Q4_K_M falls back to for
//! rows that are not a multiple of 256, e.g. all of Qwen2.5-0.5B's attention and MLP inputs).
//! Per group of 8 rows and 32-value block, 176 bytes (= 8 × 22):
//!
//! | offset | bytes | content |
//! |--------|-------|---------|
//! | 0      | 16    | d of rows 0..8 (f16) |
//! | 16     | 32    | qh (the 32 fifth bits) of rows 0..8, a u32 each |
//! | 48     | 128   | nibbles: 4-byte chunk c, row r at 48 + 32c + 4r (the row's qs[4c..4c + 4]) |
//!
//! Byte i of chunk c holds value 4c + i (low nibble) and 16 + 4c + i (high nibble); their
//! fifth bits are bits 4c + i and 16 + 4c + i of qh. Weights are (5-bit value − 16) · d; the
//! −16 is taken off once per block with the activation block's sum. With eight rows' qh in one
//! register, the fifth bits of 32 values cost a handful of instructions instead of a per-row
//! bit expansion.

use super::{Group32Kernels, ROWS};
use crate::kernels::Q8Row;
use crate::quant::blocks::BLOCK_Q5_0;
use crate::quant::float::f16_to_f32;

const GROUP_BLOCK: usize = ROWS * BLOCK_Q5_0;
const QH: usize = 16;
const QS: usize = 48;

pub(super) const SCALAR: Group32Kernels = Group32Kernels { one: group_dot_scalar, four: group_dot4_scalar };

/// Moves one row's Q5_0 block into its slots of a group block.
pub(super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
    blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
    blk[QH + 4 * r..QH + 4 * r + 4].copy_from_slice(&src[2..6]);
    for c in 0..4 {
        blk[QS + 32 * c + 4 * r..][..4].copy_from_slice(&src[6 + 4 * c..][..4]);
    }
}

/// The inverse of `interleave_row`.
pub(super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
    dst[0..2].copy_from_slice(&blk[2 * r..2 * r + 2]);
    dst[2..6].copy_from_slice(&blk[QH + 4 * r..QH + 4 * r + 4]);
    for c in 0..4 {
        dst[6 + 4 * c..][..4].copy_from_slice(&blk[QS + 32 * c + 4 * r..][..4]);
    }
}

/// The reference group kernel: per row and block the exact Σ (q − 16)·y, then
/// acc += sumi·(d·d_a) as one fused multiply-add, the order the SIMD kernel follows.
unsafe fn group_dot_scalar(group: &[u8], a: &Q8Row, sums: &[i32], out: &mut [f32; ROWS]) {
    let mut acc = [0f32; ROWS];
    for (b, blk) in group.chunks_exact(GROUP_BLOCK).enumerate() {
        let y = &a.qs[32 * b..32 * b + 32];
        for r in 0..ROWS {
            let qh = u32::from_le_bytes(blk[QH + 4 * r..QH + 4 * r + 4].try_into().expect("4 bytes"));
            let mut sumi = 0i32;
            for c in 0..4 {
                for i in 0..4 {
                    let byte = blk[QS + 32 * c + 4 * r + i];
                    let (j_lo, j_hi) = (4 * c + i, 16 + 4 * c + i);
                    let lo = (byte & 0x0F) as i32 | (((qh >> j_lo) & 1) << 4) as i32;
                    let hi = (byte >> 4) as i32 | (((qh >> j_hi) & 1) << 4) as i32;
                    sumi += lo * y[j_lo] as i32 + hi * y[j_hi] as i32;
                }
            }
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            acc[r] = ((sumi - 16 * sums[b]) as f32).mul_add(d * a.d[b], acc[r]);
        }
    }
    *out = acc;
}

super::four_of32!(group_dot4_scalar, group_dot_scalar);

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::KERNELS as AVX2;
#[cfg(target_arch = "x86_64")]
pub(super) use vnni::KERNELS as VNNI;
#[cfg(target_arch = "x86_64")]
pub(super) use vnni_bitalg::KERNELS as VNNI_BITALG;

/// The one-row (decode) and four-row (prefill) kernels, one generic body over the number of
/// activation rows, once for each instruction set: the expanding module brings
/// `step` (multiply-accumulate one weight vector with one broadcast activation) and `widen`
/// (low and high accumulators → one i32 sum per row). Each unpacked weight vector is used for
/// every activation row; activations are read through raw pointers (slices here kept the
/// compiler from unrolling, at a third of the speed).
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
            a: [&Q8Row; N],
            sums: [&[i32]; N],
            out: &mut [[f32; ROWS]; N],
        ) {
            let nb = sums[0].len();
            assert!(
                group.len() >= nb * GROUP_BLOCK
                    && (0..N).all(|t| sums[t].len() == nb && a[t].d.len() >= nb && a[t].qs.len() >= 32 * nb)
            );
            let mut acc = [_mm256_setzero_ps(); N];
            for b in 0..nb {
                // SAFETY: block b < nb lies inside `group` (asserted to hold nb group blocks).
                let blk = unsafe { group.as_ptr().add(b * GROUP_BLOCK) };
                // SAFETY: the 32 high-bit bytes at QH lie inside the group block.
                let qh = unsafe { _mm256_loadu_si256(blk.add(QH) as *const __m256i) };
                // SAFETY: each activation row holds 32·nb values (asserted), so block b's start is inside it.
                let y: [*const i8; N] = std::array::from_fn(|t| unsafe { a[t].qs.as_ptr().add(32 * b) });
                let bc = |t: usize, at: usize| {
                    // SAFETY: `at` + 4 ≤ 32 values of activation block b, inside the row; read unaligned.
                    _mm256_set1_epi32(unsafe { (y[t].add(at) as *const i32).read_unaligned() })
                };
                let mut lo = [_mm256_setzero_si256(); N];
                let mut hi = [_mm256_setzero_si256(); N];
                for c in 0..4 {
                    let (wl, wh) = unpack(blk, qh, c);
                    for t in 0..N {
                        lo[t] = step(lo[t], wl, bc(t, 4 * c));
                        hi[t] = step(hi[t], wh, bc(t, 16 + 4 * c));
                    }
                }
                for t in 0..N {
                    // The stored values are q + 16: take 16·Σy off.
                    super::super::accumulate32(blk, widen(lo[t], hi[t]), 16 * sums[t][b], a[t].d[b], &mut acc[t]);
                }
            }
            for t in 0..N {
                // SAFETY: `out[t]` holds ROWS = 8 floats, one vector.
                unsafe { _mm256_storeu_ps(out[t].as_mut_ptr(), acc[t]) };
            }
        }

        super::super::one_and_four!($features, &Q8Row, &[i32]);
    };
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{GROUP_BLOCK, Group32Kernels, Q8Row, QH, QS, ROWS};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: Group32Kernels = Group32Kernels { one: group_dot, four: group_dot4 };

    /// Bits `first..first + 4` of each row's qh (`first` a multiple of 4) as 0x10 / 0 in that
    /// row's four bytes: the byte holding them is spread to the row's four bytes (no shift
    /// needed), then each byte tests its own bit.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn fifth_bits(qh: __m256i, first: usize) -> __m256i {
        let k = (first / 8) as i8;
        let spread = _mm256_setr_epi8(
            k,
            k,
            k,
            k,
            4 + k,
            4 + k,
            4 + k,
            4 + k,
            8 + k,
            8 + k,
            8 + k,
            8 + k,
            12 + k,
            12 + k,
            12 + k,
            12 + k, //
            k,
            k,
            k,
            k,
            4 + k,
            4 + k,
            4 + k,
            4 + k,
            8 + k,
            8 + k,
            8 + k,
            8 + k,
            12 + k,
            12 + k,
            12 + k,
            12 + k,
        );
        let bit = _mm256_set1_epi32((0x0804_0201u32 << (first % 8)) as i32);
        let v = _mm256_shuffle_epi8(qh, spread);
        _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit), _mm256_set1_epi8(0x10))
    }

    /// The two unsigned 5-bit weight vectors (values 4c.., 16 + 4c..) of chunk c for 8 rows.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(super) fn unpack(blk: *const u8, qh: __m256i, c: usize) -> (__m256i, __m256i) {
        let m4 = _mm256_set1_epi8(0x0F);
        // SAFETY: chunk c < 4 of the 128 interleaved low nibble bytes at QS lies inside the group block.
        let w = unsafe { _mm256_loadu_si256(blk.add(QS + 32 * c) as *const __m256i) };
        let lo = _mm256_or_si256(_mm256_and_si256(w, m4), fifth_bits(qh, 4 * c));
        let hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), fifth_bits(qh, 16 + 4 * c));
        (lo, hi)
    }

    /// One multiply-accumulate step: 16-bit pair sums (≤ 4 · 2 · 31 · 127 = 31496 per lane over
    /// a block, no overflow).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, y))
    }

    /// The low- and high-nibble accumulators as one i32 sum per row.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn widen(lo: __m256i, hi: __m256i) -> __m256i {
        let ones = _mm256_set1_epi16(1);
        _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones))
    }

    group_kernels!("avx2,fma,f16c");
}

/// The kernels with AVX-512 VNNI on 256-bit vectors (see q4_k.rs): `vpdpbusd`
/// accumulates each row's products in its own 32-bit lane, no 16-bit sums to widen.
#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::avx2::unpack;
    use super::{GROUP_BLOCK, Group32Kernels, Q8Row, QH, ROWS};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: Group32Kernels = Group32Kernels { one: group_dot, four: group_dot4 };

    /// One step: four u8·i8 products summed straight into each row's 32-bit lane.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, w, y)
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    pub(super) fn widen(lo: __m256i, hi: __m256i) -> __m256i {
        _mm256_add_epi32(lo, hi)
    }

    group_kernels!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}

/// The VNNI kernels where the CPU also has AVX-512 BITALG: the fifth bits of a chunk come from
/// one `vpshufbitqmb` into a mask register and a masked byte add, instead of a shuffle, two
/// ands and a compare per weight vector. Each 64-bit lane of the weight vector holds rows
/// 2L and 2L + 1, whose two `qh` words are exactly 64-bit lane L of the qh register, so one
/// constant bit index per byte picks its bit. GFNI (on every CPU with BITALG so far) moves the
/// high nibbles down in one instruction instead of a shift and a mask.
#[cfg(target_arch = "x86_64")]
mod vnni_bitalg {
    use super::vnni::{step, widen};
    use super::{GROUP_BLOCK, Group32Kernels, Q8Row, QH, QS, ROWS};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: Group32Kernels = Group32Kernels { one: group_dot, four: group_dot4 };

    /// Byte j of each 64-bit lane (row 2L + j / 4, value `first + j % 4`) → bit 32·(j / 4) +
    /// first + j % 4 of that lane of qh.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni,avx512bw,avx512bitalg,gfni")]
    #[inline]
    fn fifth_bits(qh: __m256i, first: usize) -> __mmask32 {
        let f = first as i64;
        let lane = f
            | (f + 1) << 8
            | (f + 2) << 16
            | (f + 3) << 24
            | (f + 32) << 32
            | (f + 33) << 40
            | (f + 34) << 48
            | (f + 35) << 56;
        _mm256_bitshuffle_epi64_mask(qh, _mm256_set1_epi64x(lane))
    }

    /// As `avx2::unpack`: the two unsigned 5-bit weight vectors of chunk c for 8 rows.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni,avx512bw,avx512bitalg,gfni")]
    #[inline]
    fn unpack(blk: *const u8, qh: __m256i, c: usize) -> (__m256i, __m256i) {
        let (m4, sixteen) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x10));
        // SAFETY: chunk c < 4 of the 128 interleaved low nibble bytes at QS lies inside the group block.
        let w = unsafe { _mm256_loadu_si256(blk.add(QS + 32 * c) as *const __m256i) };
        // The high nibble moved down by one GF(2) affine map.
        let high_down = _mm256_set1_epi64x(super::super::bit_move(4, 0, 4));
        let (lo, hi) = (_mm256_and_si256(w, m4), _mm256_gf2p8affine_epi64_epi8::<0>(w, high_down));
        (
            _mm256_mask_add_epi8(lo, fifth_bits(qh, 4 * c), lo, sixteen),
            _mm256_mask_add_epi8(hi, fifth_bits(qh, 16 + 4 * c), hi, sixteen),
        )
    }

    group_kernels!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni,avx512bw,avx512bitalg,gfni");
}
