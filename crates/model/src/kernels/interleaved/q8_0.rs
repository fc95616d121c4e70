//! Q8_0×8: eight rows' Q8_0 blocks side by side (llama.cpp repacks Q8_0 the same way into
//! `block_q8_0x4`). Per group of 8 rows and 32-value block, 272 bytes (= 8 × 34):
//!
//! | offset | bytes | content |
//! |--------|-------|---------|
//! | 0      | 16    | d of rows 0..8 (f16) |
//! | 16     | 256   | int8 values: 4-byte chunk c (0..8), row r at 16 + 32c + 4r (the row's qs[4c..4c + 4]) |
//!
//! One broadcast of four activation bytes meets the same four positions of all eight rows, and
//! each row's block sum lands in its own 32-bit lane, so the scale is applied to eight rows by
//! one multiply-add.

use super::{Group32Kernels, ROWS};
use crate::kernels::Q8Row;
use crate::quant::blocks::BLOCK_Q8_0;
use crate::quant::float::f16_to_f32;

const GROUP_BLOCK: usize = ROWS * BLOCK_Q8_0;
const QS: usize = 16;

pub(super) const SCALAR: Group32Kernels = Group32Kernels { one: group_dot_scalar, four: group_dot4_scalar };

/// Moves one row's Q8_0 block into its slots of a group block.
pub(super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
    blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
    for c in 0..8 {
        blk[QS + 32 * c + 4 * r..][..4].copy_from_slice(&src[2 + 4 * c..][..4]);
    }
}

/// The inverse of `interleave_row`.
pub(super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
    dst[0..2].copy_from_slice(&blk[2 * r..2 * r + 2]);
    for c in 0..8 {
        dst[2 + 4 * c..][..4].copy_from_slice(&blk[QS + 32 * c + 4 * r..][..4]);
    }
}

/// The reference group kernel: per row and block the exact Σ q·y, then acc += sumi·(d·d_a) as
/// one fused multiply-add, the order the SIMD kernels follow. (`_sums` serve formats with an
/// offset; Q8_0 has none.)
unsafe fn group_dot_scalar(group: &[u8], a: &Q8Row, _sums: &[i32], out: &mut [f32; ROWS]) {
    let mut acc = [0f32; ROWS];
    for (b, blk) in group.chunks_exact(GROUP_BLOCK).enumerate() {
        let y = &a.qs[32 * b..32 * b + 32];
        for r in 0..ROWS {
            let mut sumi = 0i32;
            for c in 0..8 {
                for i in 0..4 {
                    sumi += blk[QS + 32 * c + 4 * r + i] as i8 as i32 * y[4 * c + i] as i32;
                }
            }
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            acc[r] = (sumi as f32).mul_add(d * a.d[b], acc[r]);
        }
    }
    *out = acc;
}

super::four_of32!(group_dot4_scalar, group_dot_scalar);

#[cfg(target_arch = "x86_64")]
pub(super) use avx2::KERNELS as AVX2;
#[cfg(target_arch = "x86_64")]
pub(super) use vnni::KERNELS as VNNI;

/// The kernels for one instruction set. The unsigned-by-signed multiply instructions need the
/// weights as unsigned bytes; the expanding module brings how: `weights(w)` (once per weight
/// vector), `acts(y, w)` (per activation row), `step` (acc += Σ of four products per 32-bit
/// lane) and `offset(Σy)` (what to take off each row's block sum afterwards).
#[cfg(target_arch = "x86_64")]
macro_rules! q8_0_kernels {
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
                // SAFETY: each activation row holds 32·nb values (checked by the caller's assert), so block b's start is inside it.
                let y: [*const i8; N] = std::array::from_fn(|t| unsafe { a[t].qs.as_ptr().add(32 * b) });
                // One activation row: even and odd chunks in separate accumulators, two chains
                // of four steps (several rows already give independent chains).
                let split = if N == 1 { 2 } else { 1 };
                let mut s = [[_mm256_setzero_si256(); N]; 2];
                for c in 0..8 {
                    // SAFETY: chunk c < 8 of the block's 256 interleaved quants lies inside the group block `blk` points at.
                    let w = unsafe { _mm256_loadu_si256(blk.add(QS + 32 * c) as *const __m256i) };
                    let uw = weights(w);
                    for t in 0..N {
                        // SAFETY: four values 4c..4c + 4 of activation block b (32 values) lie inside the row; read unaligned.
                        let yc = _mm256_set1_epi32(unsafe { (y[t].add(4 * c) as *const i32).read_unaligned() });
                        s[c % split][t] = step(s[c % split][t], uw, acts(yc, w));
                    }
                }
                for t in 0..N {
                    let s = _mm256_add_epi32(s[0][t], s[1][t]);
                    super::super::accumulate32(blk, s, offset(sums[t][b]), a[t].d[b], &mut acc[t]);
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
    use super::{GROUP_BLOCK, Group32Kernels, Q8Row, QS, ROWS};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: Group32Kernels = Group32Kernels { one: group_dot, four: group_dot4 };

    /// |w|, with y carrying w's sign: 16-bit pair sums stay ≤ 2·128·127 = 32512 (no saturation).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn weights(w: __m256i) -> __m256i {
        _mm256_abs_epi8(w)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn acts(y: __m256i, w: __m256i) -> __m256i {
        _mm256_sign_epi8(y, w)
    }

    /// Pair sums widened at once.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, y), _mm256_set1_epi16(1)))
    }

    fn offset(_ysum: i32) -> i32 {
        0
    }

    q8_0_kernels!("avx2,fma,f16c");
}

/// AVX-512 VNNI on 256-bit vectors: `vpdpbusd` sums four u8·i8 products into each 32-bit lane.
#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{GROUP_BLOCK, Group32Kernels, Q8Row, QS, ROWS};
    use std::arch::x86_64::*;

    pub(in super::super) const KERNELS: Group32Kernels = Group32Kernels { one: group_dot, four: group_dot4 };

    /// w + 128 as an unsigned byte (one xor per weight vector, shared by every activation
    /// row); the 128·Σy it adds is taken off per block (`offset`). vpdpbusd sums in 32 bits,
    /// so nothing saturates.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn weights(w: __m256i) -> __m256i {
        _mm256_xor_si256(w, _mm256_set1_epi8(-128))
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn acts(y: __m256i, _w: __m256i) -> __m256i {
        y
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    fn step(acc: __m256i, w: __m256i, y: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, w, y)
    }

    fn offset(ysum: i32) -> i32 {
        128 * ysum
    }

    q8_0_kernels!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}
