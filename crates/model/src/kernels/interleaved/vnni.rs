//! The AVX-512 VNNI group kernels (on 256-bit vectors: `vpdpbusd` sums four u8·i8 products
//! straight into each row's 32-bit lane, no 16-bit sums to widen) for every interleaved format,
//! and two richer sets where the CPU also has GFNI (Q6_K's bit moves) and BITALG (Q5_0's fifth
//! bits). Each format's block body is AVX2's (`avx2.rs`, the `*_block!` macros) with these
//! primitives; whatever AVX2's form already does as fast is taken from there.

use super::KernelTable;

/// VNNI for every format.
pub(super) const TABLE: KernelTable = KernelTable {
    name: "avx512vnni",
    q4_k: q4_k::KERNELS,
    q6_k: q6_k::KERNELS,
    q5_0: q5_0::KERNELS,
    q8_0: q8_0::KERNELS,
};

/// VNNI, with Q6_K's GFNI form.
pub(super) const TABLE_GFNI: KernelTable = KernelTable { name: "avx512vnni+gfni", q6_k: q6_k_gfni::KERNELS, ..TABLE };

/// VNNI, with Q6_K's GFNI form and Q5_0's BITALG form.
pub(super) const TABLE_GFNI_BITALG: KernelTable =
    KernelTable { name: "avx512vnni+gfni+bitalg", q5_0: q5_0_bitalg::KERNELS, ..TABLE_GFNI };

/// The 8×8 bit matrix `vgf2p8affineqb` takes (byte 7 − i selects the bits that make output
/// bit i) for moving bits `from..from + n` of each byte to `to..to + n`, the others 0.
const fn bit_move(from: u32, to: u32, n: u32) -> i64 {
    let mut m = 0u64;
    let mut k = 0;
    while k < n {
        m |= 1 << (8 * (7 - (to + k)) + from + k);
        k += 1;
    }
    m as i64
}

/// Q4_K: each sub-block's products gather in 32-bit lanes, then one multiply by the scales.
mod q4_k {
    use crate::kernels::interleaved::avx2::q4_k::{accumulate, min_pairs, unpack_scales};
    use std::arch::x86_64::*;

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

    crate::kernels::interleaved::avx2::q4_k_block!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}

/// Q6_K: each 16-value sub-block's products gather in 32-bit lanes, then one multiply by the
/// row scales.
mod q6_k {
    pub(super) use crate::kernels::interleaved::avx2::q6_k::{offsets, unpack};
    use crate::kernels::interleaved::layout::q6_k::SCALES;
    use std::arch::x86_64::*;

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

    crate::kernels::interleaved::avx2::q6_k_block!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}

/// Q6_K where the CPU also has GFNI: each bit move of the unpack (a nibble down, two high bits
/// up into place) is one affine map over GF(2) instead of a shift and a mask, and the or with
/// the other part one `vpternlogd`, about half the instructions per weight vector.
mod q6_k_gfni {
    use super::bit_move;
    use super::q6_k::{FLUSH, apply, offsets, scales, step};
    use crate::kernels::interleaved::layout::q6_k::chunk;
    use std::arch::x86_64::*;

    /// As AVX2's `unpack`: the four unsigned 6-bit weight vectors of chunk c in half n.
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

    crate::kernels::interleaved::avx2::q6_k_block!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni,gfni");
}

/// Q5_0: AVX2's unpack, the products summed in 32-bit lanes.
mod q5_0 {
    pub(super) use crate::kernels::interleaved::avx2::q5_0::unpack;
    use std::arch::x86_64::*;

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

    crate::kernels::interleaved::avx2::q5_0_block!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}

/// Q5_0 where the CPU also has AVX-512 BITALG: the fifth bits of a chunk come from one
/// `vpshufbitqmb` into a mask register and a masked byte add, instead of a shuffle, two ands
/// and a compare per weight vector. Each 64-bit lane of the weight vector holds rows 2L and
/// 2L + 1, whose two `qh` words are exactly 64-bit lane L of the qh register, so one constant
/// bit index per byte picks its bit. GFNI (on every CPU with BITALG so far) moves the high
/// nibbles down in one instruction instead of a shift and a mask.
mod q5_0_bitalg {
    use super::q5_0::{step, widen};
    use crate::kernels::interleaved::layout::q5_0::QS;
    use std::arch::x86_64::*;

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

    /// As AVX2's `unpack`: the two unsigned 5-bit weight vectors of chunk c for 8 rows.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni,avx512bw,avx512bitalg,gfni")]
    #[inline]
    fn unpack(blk: *const u8, qh: __m256i, c: usize) -> (__m256i, __m256i) {
        let (m4, sixteen) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x10));
        // SAFETY: chunk c < 4 of the 128 interleaved low nibble bytes at QS lies inside the group block.
        let w = unsafe { _mm256_loadu_si256(blk.add(QS + 32 * c) as *const __m256i) };
        // The high nibble moved down by one GF(2) affine map.
        let high_down = _mm256_set1_epi64x(super::bit_move(4, 0, 4));
        let (lo, hi) = (_mm256_and_si256(w, m4), _mm256_gf2p8affine_epi64_epi8::<0>(w, high_down));
        (
            _mm256_mask_add_epi8(lo, fifth_bits(qh, 4 * c), lo, sixteen),
            _mm256_mask_add_epi8(hi, fifth_bits(qh, 16 + 4 * c), hi, sixteen),
        )
    }

    crate::kernels::interleaved::avx2::q5_0_block!(
        "avx2,fma,f16c,avx512f,avx512vl,avx512vnni,avx512bw,avx512bitalg,gfni"
    );
}

/// Q8_0: w + 128 as an unsigned byte.
mod q8_0 {
    use std::arch::x86_64::*;

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

    crate::kernels::interleaved::avx2::q8_0_block!("avx2,fma,f16c,avx512f,avx512vl,avx512vnni");
}
