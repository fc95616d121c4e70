//! The AVX2 (+FMA, F16C) group kernels for every interleaved format, and the per-format block
//! bodies the VNNI kernels (`vnni.rs`) share: each `*_block!` macro is one format's work on one
//! group block, written once over a few primitives (`step`, `unpack`, `scales`, …) that each
//! instruction set's module brings, and run under the shared `driver::rows_dot`. Each weight
//! vector is unpacked once and used for every activation row (one in decode, four in prefill).

use super::KernelTable;
use std::arch::x86_64::*;

pub(super) const TABLE: KernelTable =
    KernelTable { name: "avx2", q4_k: q4_k::KERNELS, q6_k: q6_k::KERNELS, q5_0: q5_0::KERNELS, q8_0: q8_0::KERNELS };

/// 32-bit broadcast of activation bytes `at..at + 4` (shared by the formats' kernels).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn bcast4(y: &[i8], at: usize) -> __m256i {
    _mm256_set1_epi32(i32::from_le_bytes([y[at] as u8, y[at + 1] as u8, y[at + 2] as u8, y[at + 3] as u8]))
}

/// acc += (s − offset)·(d·d_a) for one block of the 32-value formats (Q5_0, Q8_0), whose group
/// block opens with the eight rows' f16 scales d; `s` holds each row's integer Σ q·y and
/// `offset` what the format's stored values add to it (16·Σy for Q5_0's unsigned values).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) fn accumulate32(blk: *const u8, s: __m256i, offset: i32, a_d: f32, acc: &mut __m256) {
    let s = _mm256_sub_epi32(s, _mm256_set1_epi32(offset));
    // SAFETY: every group block of these formats starts with its eight 2-byte scales.
    let dw = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(blk as *const __m128i) });
    *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(a_d)), *acc);
}

/// Q4_K's block: the expanding module brings `unpack_scales`, `min_pairs` and `accumulate`
/// (AVX2's, shared), `nibbles` (a weight vector's low and high nibbles in `step`'s form),
/// `step` (multiply-accumulate one weight vector with one broadcast activation), `join` (two
/// partial accumulators as one), `scales` (sub-blocks 2p, 2p + 1 in `apply`'s form), `apply`
/// and `apply_high` (accumulator of low / high nibbles × scales → i32 per row).
macro_rules! q4_k_block {
    ($features:literal) => {
        pub(in super::super) struct Block;
        impl crate::kernels::interleaved::driver::GroupBlock for Block {
            type Act = crate::kernels::interleaved::driver::Q8KAct;
            const GROUP_BLOCK: usize = crate::kernels::interleaved::layout::q4_k::GROUP_BLOCK;

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn block<const N: usize>(blk: *const u8, a: [&Self::Act; N], b: usize, acc: &mut [[__m256; 2]; N]) {
                use crate::kernels::interleaved::avx2::bcast4;
                use crate::kernels::interleaved::layout::q4_k::QS;
                let u = unpack_scales(blk);
                // Each row's block b and its pair sums, looked up once.
                let ab: [&crate::quant::k_quants::BlockQ8K; N] = std::array::from_fn(|t| &a[t].blocks[b]);
                let ps: [&crate::kernels::interleaved::driver::PairSums; N] =
                    std::array::from_fn(|t| &a[t].pair_sums[b]);
                let y: [&[i8; 256]; N] = std::array::from_fn(|t| &ab[t].qs);
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
                        summ[t] = _mm256_add_epi32(summ[t], _mm256_madd_epi16(mins, _mm256_set1_epi32(ps[t][p])));
                    }
                }
                for t in 0..N {
                    let [acc_t, acc_min_t] = &mut acc[t];
                    accumulate(blk, ab[t].d, sumi[t], summ[t], acc_t, acc_min_t);
                }
            }
        }
        crate::kernels::interleaved::driver::entry_points!($features, Block);
    };
}
pub(super) use q4_k_block;

/// Q6_K's block: the expanding module brings `offsets` and `unpack` (the four unsigned 6-bit
/// weight vectors of a chunk), `step`, `FLUSH` (chunks per accumulator before scaling),
/// `scales` (scale j of the 8 rows in `apply`'s form) and `apply` (accumulator × scales → i32
/// per row).
macro_rules! q6_k_block {
    ($features:literal) => {
        pub(in super::super) struct Block;
        impl crate::kernels::interleaved::driver::GroupBlock for Block {
            type Act = crate::kernels::interleaved::driver::Q8KAct;
            const GROUP_BLOCK: usize = crate::kernels::interleaved::layout::q6_k::GROUP_BLOCK;

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn block<const N: usize>(blk: *const u8, a: [&Self::Act; N], b: usize, acc: &mut [[__m256; 2]; N]) {
                use crate::kernels::interleaved::avx2::bcast4;
                let y: [&[i8; 256]; N] = std::array::from_fn(|t| &a[t].blocks[b].qs);
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
                    let ab = &a[t].blocks[b];
                    let s = _mm256_sub_epi32(sumi[t], offsets(blk, ab));
                    acc[t][0] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(ab.d)), acc[t][0]);
                }
            }
        }
        crate::kernels::interleaved::driver::entry_points!($features, Block);
    };
}
pub(super) use q6_k_block;

/// Q5_0's block: the expanding module brings `unpack` (the two unsigned 5-bit weight vectors
/// of a chunk), `step` and `widen` (low and high accumulators → one i32 sum per row).
/// Activations are read through raw pointers (slices here kept the compiler from unrolling, at
/// a third of the speed).
macro_rules! q5_0_block {
    ($features:literal) => {
        pub(in super::super) struct Block;
        impl crate::kernels::interleaved::driver::GroupBlock for Block {
            type Act = crate::kernels::interleaved::driver::Q8Act;
            const GROUP_BLOCK: usize = crate::kernels::interleaved::layout::q5_0::GROUP_BLOCK;

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn block<const N: usize>(blk: *const u8, a: [&Self::Act; N], b: usize, acc: &mut [[__m256; 2]; N]) {
                use crate::kernels::interleaved::layout::q5_0::QH;
                // SAFETY: the 32 high-bit bytes at QH lie inside the group block.
                let qh = unsafe { _mm256_loadu_si256(blk.add(QH) as *const __m256i) };
                // SAFETY: each activation row holds 32·nb values (asserted by the driver), so block b's start is inside it.
                let y: [*const i8; N] = std::array::from_fn(|t| unsafe { a[t].row.qs.as_ptr().add(32 * b) });
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
                    let (s, d) = (widen(lo[t], hi[t]), a[t].row.d[b]);
                    crate::kernels::interleaved::avx2::accumulate32(blk, s, 16 * a[t].sums[b], d, &mut acc[t][0]);
                }
            }
        }
        crate::kernels::interleaved::driver::entry_points!($features, Block);
    };
}
pub(super) use q5_0_block;

/// Q8_0's block. The unsigned-by-signed multiply instructions need the weights as unsigned
/// bytes; the expanding module brings how: `weights(w)` (once per weight vector), `acts(y, w)`
/// (per activation row), `step` (acc += Σ of four products per 32-bit lane) and `offset(Σy)`
/// (what to take off each row's block sum afterwards).
macro_rules! q8_0_block {
    ($features:literal) => {
        pub(in super::super) struct Block;
        impl crate::kernels::interleaved::driver::GroupBlock for Block {
            type Act = crate::kernels::interleaved::driver::Q8Act;
            const GROUP_BLOCK: usize = crate::kernels::interleaved::layout::q8_0::GROUP_BLOCK;

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn block<const N: usize>(blk: *const u8, a: [&Self::Act; N], b: usize, acc: &mut [[__m256; 2]; N]) {
                use crate::kernels::interleaved::layout::q8_0::QS;
                // SAFETY: each activation row holds 32·nb values (asserted by the driver), so block b's start is inside it.
                let y: [*const i8; N] = std::array::from_fn(|t| unsafe { a[t].row.qs.as_ptr().add(32 * b) });
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
                    let (s, d) = (_mm256_add_epi32(s[0][t], s[1][t]), a[t].row.d[b]);
                    crate::kernels::interleaved::avx2::accumulate32(blk, s, offset(a[t].sums[b]), d, &mut acc[t][0]);
                }
            }
        }
        crate::kernels::interleaved::driver::entry_points!($features, Block);
    };
}
pub(super) use q8_0_block;

/// Q4_K with 16-bit pair sums (`maddubs`), scales applied by `madd`.
pub(super) mod q4_k {
    use crate::kernels::interleaved::layout::q4_k::{DMIN, SCALES};
    use std::arch::x86_64::*;

    /// Scales of sub-block j (bytes 8j'..8j'+8 of `half`, j' = j mod 2) in i16 lane pairs
    /// (2r, 2r + 1), the two lanes `maddubs` leaves for row r.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn scale_pairs(half: __m128i, odd: bool) -> __m256i {
        let dup = if odd { _mm_unpackhi_epi8(half, half) } else { _mm_unpacklo_epi8(half, half) };
        _mm256_cvtepu8_epi16(dup)
    }

    /// The 64 scales and 64 mins of a group block's 8 rows, unpacked from their 6-bit form
    /// (see `scale_min_k4`) all at once: `sc[h][i]` holds sub-blocks 4h + 2i, 4h + 2i + 1 as
    /// bytes 8j' + r; `mn` likewise.
    pub(in crate::kernels::interleaved) struct Unpacked {
        pub(in crate::kernels::interleaved) sc: [[__m128i; 2]; 2],
        pub(in crate::kernels::interleaved) mn: [[__m128i; 2]; 2],
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in crate::kernels::interleaved) fn unpack_scales(blk: *const u8) -> Unpacked {
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
    pub(in crate::kernels::interleaved) fn min_pairs(u: &Unpacked, p: usize) -> __m256i {
        // Interleaves the low and high 8 bytes of a 16-byte half.
        let pair_bytes = _mm_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        _mm256_cvtepu8_epi16(_mm_shuffle_epi8(u.mn[p / 2][p % 2], pair_bytes))
    }

    /// acc += sumi·(d·d_a), acc_min += summ·(dmin·d_a) for one super-block of 8 rows.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in crate::kernels::interleaved) fn accumulate(
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

    /// One multiply-accumulate step: 16-bit pair sums (≤ 8 · 2 · 15 · 127 per lane over a
    /// sub-block, no overflow).
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

    super::q4_k_block!("avx2,fma,f16c");
}

/// Q6_K with 16-bit pair sums, two chunks at a time before the scale step.
pub(super) mod q6_k {
    use crate::kernels::interleaved::layout::q6_k::{SCALES, chunk};
    use crate::quant::k_quants::BlockQ8K;
    use std::arch::x86_64::*;

    /// 32 · Σ_j scale_j · bsum_j per row: the −32 offset of every weight, taken off at once.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in crate::kernels::interleaved) fn offsets(blk: *const u8, a: &BlockQ8K) -> __m256i {
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
    pub(in crate::kernels::interleaved) fn unpack(blk: *const u8, n: usize, c: usize) -> [__m256i; 4] {
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

    super::q6_k_block!("avx2,fma,f16c");
}

/// Q5_0 with 16-bit pair sums; the fifth bits by a shuffle and compare per weight vector.
pub(super) mod q5_0 {
    use crate::kernels::interleaved::layout::q5_0::QS;
    use std::arch::x86_64::*;

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
    pub(in crate::kernels::interleaved) fn unpack(blk: *const u8, qh: __m256i, c: usize) -> (__m256i, __m256i) {
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

    super::q5_0_block!("avx2,fma,f16c");
}

/// Q8_0 through `maddubs` on |w| and y with w's sign.
pub(super) mod q8_0 {
    use std::arch::x86_64::*;

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

    super::q8_0_block!("avx2,fma,f16c");
}
