//! AVX-512 kernels for CPUs with AVX-512 BW/VL and VNNI (Ice Lake, Sapphire Rapids, Zen 4):
//! two 32-blocks per 512-bit register and `vpdpbusd` for the u8·i8 dot; Q4_K uses 256-bit
//! VNNI per sub-block. Q6_K and the float rows reuse the AVX2 code, which is as fast here.

use super::Kernels;

/// The AVX-512 table when this CPU has the features it needs.
pub(super) fn detect() -> Option<&'static Kernels> {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::cpu_features().avx512_row_kernels() && super::avx2::detect().is_some() {
            return Some(&imp::KERNELS);
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    use super::super::avx2::imp::{
        self as avx2, f16_pair, hsum2_i32, load_scales8, q4_k_min_products, q4_k_scales_mins16, q8_k_scales8, reduce8,
        reduce8_128_paired, reduce8_paired,
    };
    use super::super::{Kernels, Q8Row, scalar, sum_lanes};
    use crate::quant::blocks::{BLOCK_Q4_0, BLOCK_Q5_0, BLOCK_Q8_0};
    use crate::quant::k_quants::{BLOCK_Q4_K, BlockQ8K};

    pub(super) static KERNELS: Kernels = Kernels {
        name: "avx512",
        q8_0,
        q4_0,
        q5_0,
        q4_k,
        q6_k: avx2::q6_k,
        f32: avx2::f32_row,
        f16: avx2::f16_row,
        bf16: avx2::bf16_row,
    };

    /// Σ x·y per 4 bytes over 64 signed bytes (two blocks), via |x| and y with x's sign.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    fn pair_dot(x: __m512i, y: __m512i) -> __m512i {
        let ax = _mm512_abs_epi8(x);
        let sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), _mm512_setzero_si512(), y);
        _mm512_dpbusd_epi32(_mm512_setzero_si512(), ax, sy)
    }

    /// Nibbles of two consecutive blocks (16 bytes each at `p` and `p + stride`) as 64 bytes:
    /// block A's low then high nibbles, then block B's.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    unsafe fn nibbles2(p: *const u8, stride: usize) -> __m512i {
        // SAFETY: the caller guarantees 16 readable bytes at p and at p + stride.
        let (a, b) =
            unsafe { (_mm_loadu_si128(p as *const __m128i), _mm_loadu_si128(p.add(stride) as *const __m128i)) };
        let ab = _mm256_set_m128i(b, a);
        let m4 = _mm256_set1_epi8(0x0F);
        let lo = _mm256_and_si256(ab, m4);
        let hi = _mm256_and_si256(_mm256_srli_epi16(ab, 4), m4);
        // [A.lo, B.lo, A.hi, B.hi] -> [A.lo, A.hi, B.lo, B.hi]
        let x = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        _mm512_shuffle_i64x2(x, x, 0b11_01_10_00)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    unsafe fn pair_q8_0(w: *const u8) -> __m512i {
        // SAFETY: the caller passes two consecutive whole Q8_0 blocks (2-byte scale, then 32 quants each).
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(w.add(2) as *const __m256i),
                _mm256_loadu_si256(w.add(2 + BLOCK_Q8_0) as *const __m256i),
            )
        };
        _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1)
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    unsafe fn pair_q4_0(w: *const u8) -> __m512i {
        // SAFETY: the caller passes two consecutive whole Q4_0 blocks; their nibbles start at byte 2.
        _mm512_sub_epi8(unsafe { nibbles2(w.add(2), BLOCK_Q4_0) }, _mm512_set1_epi8(8))
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    unsafe fn pair_q5_0(w: *const u8) -> __m512i {
        // SAFETY: the caller passes two consecutive whole Q5_0 blocks; each has 4 high-bit bytes at 2.
        let (ha, hb) = unsafe {
            ((w.add(2) as *const u32).read_unaligned(), (w.add(2 + BLOCK_Q5_0) as *const u32).read_unaligned())
        };
        let fifth: __mmask64 = ha as u64 | ((hb as u64) << 32);
        // SAFETY: the caller passes two consecutive whole Q5_0 blocks; their nibbles start at byte 6.
        let nib = unsafe { nibbles2(w.add(6), BLOCK_Q5_0) };
        // value - 16: the nibble where the fifth bit is set, the nibble | 0xF0 elsewhere.
        _mm512_mask_mov_epi8(_mm512_or_si512(nib, _mm512_set1_epi8(0xF0u8 as i8)), fifth, nib)
    }

    macro_rules! block32_kernel {
        ($name:ident, $inner:ident, $bytes:expr, $pair:ident, $sumi:path) => {
            fn $name(w: &[u8], a: &Q8Row) -> f32 {
                assert_eq!(w.len(), a.n_blocks() * $bytes, "weight row and activation lengths differ");
                // SAFETY: this table is handed out only after `detect` saw every feature used,
                // and the lengths were checked above.
                unsafe { $inner(w, a) }
            }

            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
            unsafe fn $inner(w: &[u8], a: &Q8Row) -> f32 {
                let nb = a.n_blocks();
                let (wp, qp, dp) = (w.as_ptr(), a.qs.as_ptr(), a.d.as_ptr());
                let mut acc = _mm256_setzero_ps();
                let mut b = 0;
                while b + 8 <= nb {
                    let mut s = [_mm256_setzero_si256(); 8];
                    for k in 0..4 {
                        // SAFETY: blocks b + 2k, b + 2k + 1 < b + 8 ≤ nb: 64 activation values inside the row.
                        let y = unsafe { _mm512_loadu_si512(qp.add(32 * (b + 2 * k)) as *const _) };
                        // SAFETY: blocks b + 2k, b + 2k + 1 < nb lie inside w (length asserted); features as this function's.
                        let p = pair_dot(unsafe { $pair(wp.add((b + 2 * k) * $bytes)) }, y);
                        s[2 * k] = _mm512_castsi512_si256(p);
                        s[2 * k + 1] = _mm512_extracti64x4_epi64(p, 1);
                    }
                    let sums = _mm256_cvtepi32_ps(reduce8(&s));
                    // SAFETY: blocks b..b + 8 ≤ nb lie inside w; features as this function's.
                    let dw = unsafe { load_scales8(wp.add(b * $bytes), $bytes) };
                    // SAFETY: scales b..b + 8 ≤ nb lie inside `a.d` (one per block).
                    let d = _mm256_mul_ps(dw, unsafe { _mm256_loadu_ps(dp.add(b)) });
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(d, sums));
                    b += 8;
                }
                let mut lanes = [0f32; 8];
                // SAFETY: `lanes` holds eight floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
                scalar::accumulate_blocks(w, $bytes, a, b, &mut lanes, $sumi);
                sum_lanes(&lanes)
            }
        };
    }

    block32_kernel!(q8_0, q8_0_avx512, BLOCK_Q8_0, pair_q8_0, scalar::sumi_q8_0);
    block32_kernel!(q4_0, q4_0_avx512, BLOCK_Q4_0, pair_q4_0, scalar::sumi_q4_0);
    block32_kernel!(q5_0, q5_0_avx512, BLOCK_Q5_0, pair_q5_0, scalar::sumi_q5_0);

    fn q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
        assert_eq!(w.len(), a.len() * BLOCK_Q4_K, "weight row and activation lengths differ");
        // SAFETY: as for the 32-block kernels.
        unsafe { q4_k_avx512(w, a) }
    }

    /// Eight sub-block dots with 256-bit VNNI, reduced to one vector of eight sums, times the
    /// eight scales; and the four-lane min products.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[inline]
    fn q4_k_block(wb: &[u8], ab: &BlockQ8K) -> (__m256i, __m128i) {
        let m4 = _mm256_set1_epi8(0x0F);
        let zero = _mm256_setzero_si256();
        let sm = q4_k_scales_mins16(&wb[4..16]);
        let scales = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(sm));
        let (q, y) = (wb[16..144].as_ptr(), ab.qs.as_ptr());
        let mut s = [zero; 8];
        for j in 0..4 {
            // SAFETY: chunk j < 4 of the 128 quant bytes (wb[16..144]) lies inside the block.
            let bits = unsafe { _mm256_loadu_si256(q.add(32 * j) as *const __m256i) };
            let lo = _mm256_and_si256(bits, m4);
            let hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            // SAFETY: values 64j..64j + 32 < 256 of the activation block lie inside its `qs`.
            let ylo = unsafe { _mm256_loadu_si256(y.add(64 * j) as *const __m256i) };
            // SAFETY: values 64j + 32..64j + 64 ≤ 256 of the activation block lie inside its `qs`.
            let yhi = unsafe { _mm256_loadu_si256(y.add(64 * j + 32) as *const __m256i) };
            s[2 * j] = _mm256_dpbusd_epi32(zero, lo, ylo);
            s[2 * j + 1] = _mm256_dpbusd_epi32(zero, hi, yhi);
        }
        (_mm256_mullo_epi32(reduce8(&s), scales), q4_k_min_products(sm, ab))
    }

    avx2::q4_k_kernel!(q4_k_avx512, "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c", q4_k_block);
}
