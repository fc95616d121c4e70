//! AVX2 kernels (with FMA and F16C, present on every AVX2 CPU we target). Integer dots use the
//! sign trick and `maddubs`/`madd`; eight 32-blocks are reduced to eight sums with one `hadd`
//! tree so the float work happens once per eight blocks, in the lane order scalar.rs uses.

use super::Kernels;

/// The AVX2 table when this CPU has AVX2, FMA and F16C.
pub(super) fn detect() -> Option<&'static Kernels> {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::cpu_features().avx2_fma_f16c() {
            return Some(&imp::KERNELS);
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
pub(super) mod imp {
    use std::arch::x86_64::*;

    use super::super::{Kernels, Q8Row, scalar, sum_lanes};
    use crate::quant::blocks::{BLOCK_Q4_0, BLOCK_Q5_0, BLOCK_Q8_0};
    use crate::quant::k_quants::{BLOCK_Q4_K, BLOCK_Q6_K, BlockQ8K};

    pub(in super::super) static KERNELS: Kernels =
        Kernels { name: "avx2", q8_0, q4_0, q5_0, q4_k, q6_k, f32: f32_row, f16: f16_row, bf16: bf16_row };

    /// Eight i32 vectors to one vector of their eight horizontal sums, in order.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn reduce8(s: &[__m256i; 8]) -> __m256i {
        let pairs = [
            _mm256_hadd_epi32(s[0], s[1]),
            _mm256_hadd_epi32(s[2], s[3]),
            _mm256_hadd_epi32(s[4], s[5]),
            _mm256_hadd_epi32(s[6], s[7]),
        ];
        reduce8_paired(&pairs)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn hsum_i32(v: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        _mm_cvtsi128_si32(s)
    }

    /// The f16 scales at the start of eight consecutive blocks of `stride` bytes.
    ///
    /// # Safety
    /// `p` must point at eight readable blocks.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) unsafe fn load_scales8(p: *const u8, stride: usize) -> __m256 {
        // SAFETY: the caller guarantees eight readable blocks of `stride` bytes at p, each starting with its scale.
        let h = |k: usize| unsafe { (p.add(k * stride) as *const i16).read_unaligned() };
        _mm256_cvtph_ps(_mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)))
    }

    /// Σ x·y over 32 signed bytes as eight i32 partial sums (sign trick: |x| · (y · sign x)).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn mul_sum_i8(x: __m256i, y: __m256i) -> __m256i {
        let ax = _mm256_sign_epi8(x, x);
        let sy = _mm256_sign_epi8(y, x);
        _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1))
    }

    /// 16 bytes of nibbles to 32 bytes: low nibbles first (values 0..16), then high ones.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) unsafe fn nibbles(p: *const u8) -> __m256i {
        // SAFETY: the caller guarantees 16 readable bytes at p.
        let raw = unsafe { _mm_loadu_si128(p as *const __m128i) };
        let m4 = _mm_set1_epi8(0x0F);
        let lo = _mm_and_si128(raw, m4);
        let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4);
        _mm256_set_m128i(hi, lo)
    }

    /// 32 bits to 32 bytes: 0xFF where the bit is set.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn bytes_from_bits(bits: u32) -> __m256i {
        let shuf = _mm256_set_epi64x(0x0303_0303_0303_0303, 0x0202_0202_0202_0202, 0x0101_0101_0101_0101, 0);
        let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(bits as i32), shuf);
        let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbf_dfef_f7fb_fdfe));
        _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block_q8_0(w: *const u8, y: __m256i) -> __m256i {
        // SAFETY: the caller passes a whole Q8_0 block (2-byte scale, then 32 quants).
        mul_sum_i8(unsafe { _mm256_loadu_si256(w.add(2) as *const __m256i) }, y)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block_q4_0(w: *const u8, y: __m256i) -> __m256i {
        // SAFETY: the caller passes a whole Q4_0 block (2-byte scale, then 16 nibble bytes).
        let x = _mm256_sub_epi8(unsafe { nibbles(w.add(2)) }, _mm256_set1_epi8(8));
        mul_sum_i8(x, y)
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block_q5_0(w: *const u8, y: __m256i) -> __m256i {
        // SAFETY: the caller passes a whole Q5_0 block (2-byte scale, 4 high-bit bytes, 16 nibble bytes).
        let qh = unsafe { (w.add(2) as *const u32).read_unaligned() };
        // value - 16: the nibble when the fifth bit is set, else the nibble with 0xF0 or'ed in.
        let off = _mm256_andnot_si256(bytes_from_bits(qh), _mm256_set1_epi8(0xF0u8 as i8));
        // SAFETY: the caller passes a whole Q5_0 block (2-byte scale, 4 high-bit bytes, 16 nibble bytes).
        mul_sum_i8(_mm256_or_si256(unsafe { nibbles(w.add(6)) }, off), y)
    }

    /// One 32-block kernel: eight blocks at a time, then the scalar tail into the same lanes.
    macro_rules! block32_kernel {
        ($name:ident, $inner:ident, $bytes:expr, $block:ident, $sumi:path) => {
            fn $name(w: &[u8], a: &Q8Row) -> f32 {
                assert_eq!(w.len(), a.n_blocks() * $bytes, "weight row and activation lengths differ");
                // SAFETY: this table is handed out only after `detect` saw AVX2, FMA and F16C,
                // and the lengths were checked above.
                unsafe { $inner(w, a) }
            }

            #[target_feature(enable = "avx2,fma,f16c")]
            unsafe fn $inner(w: &[u8], a: &Q8Row) -> f32 {
                let nb = a.n_blocks();
                let (wp, qp, dp) = (w.as_ptr(), a.qs.as_ptr(), a.d.as_ptr());
                let mut acc = _mm256_setzero_ps();
                let mut b = 0;
                while b + 8 <= nb {
                    let mut s = [_mm256_setzero_si256(); 8];
                    for (k, sk) in s.iter_mut().enumerate() {
                        // SAFETY: b + k < b + 8 ≤ nb: activation block b + k's 32 values lie inside the row (n_blocks checked against w).
                        let y = unsafe { _mm256_loadu_si256(qp.add(32 * (b + k)) as *const __m256i) };
                        // SAFETY: b + k < b + 8 ≤ nb: weight block b + k lies inside w (length asserted); features as this function's.
                        *sk = unsafe { $block(wp.add((b + k) * $bytes), y) };
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
                // Tail blocks (rows of 896 leave 4): integer dots in SIMD, then the same float
                // steps as `scalar::accumulate_blocks`, so results stay bit-identical.
                while b < nb {
                    // SAFETY: b < nb: activation block b lies inside the row.
                    let y = unsafe { _mm256_loadu_si256(qp.add(32 * b) as *const __m256i) };
                    // SAFETY: b < nb: weight block b lies inside w; features as this function's.
                    let sumi = hsum_i32(unsafe { $block(wp.add(b * $bytes), y) });
                    // SAFETY: b < nb: block b's 2-byte scale lies inside w.
                    let bits = unsafe { (wp.add(b * $bytes) as *const u16).read_unaligned() };
                    let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32))) * a.d[b];
                    lanes[b % 8] += d * sumi as f32;
                    b += 1;
                }
                sum_lanes(&lanes)
            }
        };
    }

    block32_kernel!(q8_0, q8_0_avx2, BLOCK_Q8_0, block_q8_0, scalar::sumi_q8_0);
    block32_kernel!(q4_0, q4_0_avx2, BLOCK_Q4_0, block_q4_0, scalar::sumi_q4_0);
    block32_kernel!(q5_0, q5_0_avx2, BLOCK_Q5_0, block_q5_0, scalar::sumi_q5_0);

    fn q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
        assert_eq!(w.len(), a.len() * BLOCK_Q4_K, "weight row and activation lengths differ");
        // SAFETY: as for the 32-block kernels.
        unsafe { q4_k_avx2(w, a) }
    }

    /// Two f16 values at `p` (a K-quant's d and dmin) as f32, with F16C.
    ///
    /// # Safety
    /// `p` must point at four readable bytes.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) unsafe fn f16_pair(p: *const u8) -> (f32, f32) {
        // SAFETY: the caller guarantees four readable bytes at p.
        let v = _mm_cvtph_ps(_mm_cvtsi32_si128(unsafe { (p as *const i32).read_unaligned() }));
        (_mm_cvtss_f32(v), _mm_cvtss_f32(_mm_movehdup_ps(v)))
    }

    /// Q4_K scales (i16 lanes 0..8) and mins (lanes 8..16) of one super-block.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn q4_k_scales_mins16(packed: &[u8]) -> __m256i {
        let u = scalar::q4_k_scale_words(packed);
        _mm256_cvtepu8_epi16(_mm_set_epi32(u[3] as i32, u[2] as i32, u[1] as i32, u[0] as i32))
    }

    /// min_j · (activation sum of sub-block j), j = 0..8, as four partial i32 sums.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn q4_k_min_products(scales_mins: __m256i, a: &BlockQ8K) -> __m128i {
        // SAFETY: `bsums` holds 16 i16 values, one vector.
        let bsums = unsafe { _mm256_loadu_si256(a.bsums.as_ptr() as *const __m256i) };
        let pairs = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
        _mm_madd_epi16(_mm256_extracti128_si256(scales_mins, 1), pairs)
    }

    /// The horizontal sums of eight and of four i32 lanes, reduced together.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn hsum2_i32(a: __m256i, b: __m128i) -> (i32, i32) {
        let a4 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        let h = _mm_hadd_epi32(a4, b);
        let h = _mm_hadd_epi32(h, h);
        (_mm_cvtsi128_si32(h), _mm_extract_epi32(h, 1))
    }

    /// `reduce8` after its first level: `h[k]` is `_mm256_hadd_epi32(s[2k], s[2k + 1])`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn reduce8_paired(h: &[__m256i; 4]) -> __m256i {
        let h0123 = _mm256_hadd_epi32(h[0], h[1]);
        let h4567 = _mm256_hadd_epi32(h[2], h[3]);
        let lo = _mm256_permute2x128_si256(h0123, h4567, 0x20);
        let hi = _mm256_permute2x128_si256(h0123, h4567, 0x31);
        _mm256_add_epi32(lo, hi)
    }

    /// `reduce8_128` after its first level: `h[k]` is `_mm_hadd_epi32(m[2k], m[2k + 1])`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn reduce8_128_paired(h: &[__m128i; 4]) -> __m256i {
        _mm256_set_m128i(_mm_hadd_epi32(h[2], h[3]), _mm_hadd_epi32(h[0], h[1]))
    }

    /// The activation scales of eight consecutive Q8_K blocks.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    pub(in super::super) fn q8_k_scales8(a: &[BlockQ8K]) -> __m256 {
        _mm256_setr_ps(a[0].d, a[1].d, a[2].d, a[3].d, a[4].d, a[5].d, a[6].d, a[7].d)
    }

    /// Integer partial sums of one Q4_K super-block: Σ scale·q·y over eight i32 lanes and
    /// Σ min·bsum over four.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn q4_k_block(wb: &[u8], ab: &BlockQ8K) -> (__m256i, __m128i) {
        let m4 = _mm256_set1_epi8(0x0F);
        let sm = q4_k_scales_mins16(&wb[4..16]);
        let sc = _mm256_permute2x128_si256(sm, sm, 0x00);
        // i16 lane broadcast of scale s: bytes (2s, 2s+1) everywhere.
        let scale = |s: i16| _mm256_shuffle_epi8(sc, _mm256_set1_epi16(((2 * s + 1) << 8) | (2 * s)));
        let (q, y) = (wb[16..144].as_ptr(), ab.qs.as_ptr());
        let mut sumi = _mm256_setzero_si256();
        for j in 0..4 {
            // SAFETY: chunk j < 4 of the 128 quant bytes (wb[16..144]) lies inside the block.
            let bits = unsafe { _mm256_loadu_si256(q.add(32 * j) as *const __m256i) };
            let lo = _mm256_and_si256(bits, m4);
            let hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            // SAFETY: values 64j..64j + 32 < 256 of the activation block lie inside its `qs`.
            let ylo = unsafe { _mm256_loadu_si256(y.add(64 * j) as *const __m256i) };
            // SAFETY: values 64j + 32..64j + 64 ≤ 256 of the activation block lie inside its `qs`.
            let yhi = unsafe { _mm256_loadu_si256(y.add(64 * j + 32) as *const __m256i) };
            let plo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, ylo), scale(2 * j as i16));
            let phi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, yhi), scale(2 * j as i16 + 1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(plo, phi));
        }
        (sumi, q4_k_min_products(sm, ab))
    }

    /// A Q4_K row: eight super-blocks at a time share one reduction and one 8-wide float step
    /// (lane k gets super-block b + k), the tail goes lane by lane as in scalar.rs.
    macro_rules! q4_k_kernel {
        ($inner:ident, $features:literal, $block:path) => {
            #[target_feature(enable = $features)]
            pub(in super::super) unsafe fn $inner(w: &[u8], a: &[BlockQ8K]) -> f32 {
                const B: usize = BLOCK_Q4_K;
                let (nb, wp) = (a.len(), w.as_ptr());
                let mut acc = _mm256_setzero_ps();
                let mut b = 0;
                while b + 8 <= nb {
                    // The first hadd level of reduce8 / reduce8_128 runs as pairs arrive, so
                    // only four partial vectors of each kind stay live.
                    let (mut h, mut hm) = ([_mm256_setzero_si256(); 4], [_mm_setzero_si128(); 4]);
                    for k in 0..4 {
                        let i = b + 2 * k;
                        let (s0, m0) = $block(&w[i * B..(i + 1) * B], &a[i]);
                        let (s1, m1) = $block(&w[(i + 1) * B..(i + 2) * B], &a[i + 1]);
                        h[k] = _mm256_hadd_epi32(s0, s1);
                        hm[k] = _mm_hadd_epi32(m0, m1);
                    }
                    let (si, mi) =
                        (_mm256_cvtepi32_ps(reduce8_paired(&h)), _mm256_cvtepi32_ps(reduce8_128_paired(&hm)));
                    let ad = q8_k_scales8(&a[b..b + 8]);
                    // SAFETY: super-blocks b..b + 8 ≤ nb lie inside w (length asserted), d and dmin at offsets 0 and 2.
                    let (dw, dmw) = unsafe { (load_scales8(wp.add(b * B), B), load_scales8(wp.add(b * B + 2), B)) };
                    let t = _mm256_sub_ps(
                        _mm256_mul_ps(_mm256_mul_ps(ad, dw), si),
                        _mm256_mul_ps(_mm256_mul_ps(ad, dmw), mi),
                    );
                    acc = _mm256_add_ps(acc, t);
                    b += 8;
                }
                let mut lanes = [0f32; 8];
                // SAFETY: `lanes` holds eight floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
                for b in b..nb {
                    let wb = &w[b * B..(b + 1) * B];
                    let (s, m) = $block(wb, &a[b]);
                    let (sumi, summ) = hsum2_i32(s, m);
                    // SAFETY: wb is one whole super-block, starting with d and dmin (four bytes).
                    let (d, dmin) = unsafe { f16_pair(wb.as_ptr()) };
                    lanes[b % 8] = scalar::q4_k_lane(lanes[b % 8], a[b].d, d, dmin, sumi, summ);
                }
                sum_lanes(&lanes)
            }
        };
    }
    pub(in super::super) use q4_k_kernel;

    q4_k_kernel!(q4_k_avx2, "avx2,fma,f16c", q4_k_block);

    pub(in super::super) fn q6_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
        assert_eq!(w.len(), a.len() * BLOCK_Q6_K, "weight row and activation lengths differ");
        // SAFETY: as for the 32-block kernels.
        unsafe { q6_k_avx2(w, a) }
    }

    /// Integer sum Σ scale·(q - 32)·y of one Q6_K super-block over eight i32 lanes.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn q6_k_block(wb: &[u8], ab: &BlockQ8K) -> __m256i {
        let m4 = _mm256_set1_epi8(0x0F);
        let p = wb[..BLOCK_Q6_K].as_ptr();
        // SAFETY: p points at a whole Q6_K block (sliced above); its 16 scales sit at 192..208.
        let sc = unsafe { _mm_loadu_si128(p.add(192) as *const __m128i) };
        // Sign-extended scales of groups 2m and 2m+1 over i16 lanes 0..8 and 8..16.
        let scale = |m: i64| {
            let mask = _mm_set_epi64x((2 * m + 1) * 0x0101_0101_0101_0101, 2 * m * 0x0101_0101_0101_0101);
            _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, mask))
        };
        let y = ab.qs.as_ptr();
        let mut sumi = _mm256_setzero_si256();
        for n in 0..2 {
            // SAFETY: off + 32 ≤ 192 for the offsets below (ql at 0..128, qh at 128..192): inside the block.
            let ld = |off: usize| unsafe { _mm256_loadu_si256(p.add(off) as *const __m256i) };
            let (ql0, ql1, qh) = (ld(64 * n), ld(64 * n + 32), ld(128 + 32 * n));
            // Unsigned 6-bit values 0..64; the -32 offset is taken off below via bsums.
            let q = [
                _mm256_or_si256(
                    _mm256_and_si256(ql0, m4),
                    _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(3)), 4),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(ql1, m4),
                    _mm256_slli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(12)), 2),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                    _mm256_and_si256(qh, _mm256_set1_epi8(48)),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                    _mm256_srli_epi16(_mm256_and_si256(qh, _mm256_set1_epi8(0xC0u8 as i8)), 2),
                ),
            ];
            for (k, qk) in q.iter().enumerate() {
                // SAFETY: values 128n + 32k + 32 ≤ 256 of the activation block lie inside its `qs`.
                let yk = unsafe { _mm256_loadu_si256(y.add(128 * n + 32 * k) as *const __m256i) };
                let s = scale(4 * n as i64 + k as i64);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(*qk, yk), s));
            }
        }
        // SAFETY: `bsums` holds 16 i16 values, one vector.
        let bsums = unsafe { _mm256_loadu_si256(ab.bsums.as_ptr() as *const __m256i) };
        let offset = _mm256_madd_epi16(bsums, _mm256_cvtepi8_epi16(sc));
        _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5))
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn q6_k_avx2(w: &[u8], a: &[BlockQ8K]) -> f32 {
        const B: usize = BLOCK_Q6_K;
        let (nb, wp) = (a.len(), w.as_ptr());
        let mut acc = _mm256_setzero_ps();
        let mut b = 0;
        while b + 8 <= nb {
            let mut s = [_mm256_setzero_si256(); 8];
            for (k, sk) in s.iter_mut().enumerate() {
                *sk = q6_k_block(&w[(b + k) * B..(b + k + 1) * B], &a[b + k]);
            }
            // SAFETY: super-blocks b..b + 8 ≤ nb lie inside w (length asserted); each has its f16 d at offset 208.
            let dw = unsafe { load_scales8(wp.add(b * B + 208), B) };
            let d = _mm256_mul_ps(q8_k_scales8(&a[b..b + 8]), dw);
            acc = _mm256_add_ps(acc, _mm256_mul_ps(d, _mm256_cvtepi32_ps(reduce8(&s))));
            b += 8;
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        for b in b..nb {
            let wb = &w[b * B..(b + 1) * B];
            // d alone: `f16_pair` would read four bytes, two past the end of the last super-block.
            // SAFETY: wb is one whole super-block (210 bytes); its f16 d is bytes 208..210.
            let bits = unsafe { (wb.as_ptr().add(208) as *const u16).read_unaligned() };
            let d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)));
            lanes[b % 8] = scalar::q6_k_lane(lanes[b % 8], a[b].d, d, hsum_i32(q6_k_block(wb, &a[b])));
        }
        sum_lanes(&lanes)
    }

    /// Float rows: four 8-wide accumulators over elements i % 32, tail into the same lanes.
    macro_rules! float_kernel {
        ($name:ident, $inner:ident, $size:expr, $load8:expr, $load1:path) => {
            pub(in super::super) fn $name(w: &[u8], x: &[f32]) -> f32 {
                assert_eq!(w.len(), x.len() * $size, "weight row and activation lengths differ");
                // SAFETY: as for the 32-block kernels.
                unsafe { $inner(w, x) }
            }

            #[target_feature(enable = "avx2,fma,f16c")]
            unsafe fn $inner(w: &[u8], x: &[f32]) -> f32 {
                let (wp, xp, n) = (w.as_ptr(), x.as_ptr(), x.len());
                let mut acc = [_mm256_setzero_ps(); 4];
                let mut i = 0;
                while i + 32 <= n {
                    for (k, a) in acc.iter_mut().enumerate() {
                        // SAFETY: elements i + 8k..i + 8k + 8 ≤ i + 32 ≤ n of the row, `$size` bytes each, lie inside w (length
                        // asserted); features as this function's.
                        let wv = unsafe { $load8(wp.add((i + 8 * k) * $size)) };
                        // SAFETY: elements i + 8k..i + 8k + 8 ≤ n lie inside x.
                        let xv = unsafe { _mm256_loadu_ps(xp.add(i + 8 * k)) };
                        *a = _mm256_add_ps(*a, _mm256_mul_ps(wv, xv));
                    }
                    i += 32;
                }
                let mut lanes = [0f32; 32];
                for (k, a) in acc.iter().enumerate() {
                    // SAFETY: 8k + 8 ≤ 32 = lanes.len().
                    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * k), *a) };
                }
                scalar::dot_float_from(w, x, i, &mut lanes, $size, $load1)
            }
        };
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn load8_f32(p: *const u8) -> __m256 {
        // SAFETY: the caller guarantees eight readable f32 values at p.
        unsafe { _mm256_loadu_ps(p as *const f32) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn load8_f16(p: *const u8) -> __m256 {
        // SAFETY: the caller guarantees eight readable f16 values (16 bytes) at p.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p as *const __m128i) })
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn load8_bf16(p: *const u8) -> __m256 {
        // SAFETY: the caller guarantees eight readable bf16 values (16 bytes) at p.
        let h = _mm256_cvtepu16_epi32(unsafe { _mm_loadu_si128(p as *const __m128i) });
        _mm256_castsi256_ps(_mm256_slli_epi32(h, 16))
    }

    float_kernel!(f32_row, f32_avx2, 4, load8_f32, scalar::load_f32);
    float_kernel!(f16_row, f16_avx2, 2, load8_f16, scalar::load_f16);
    float_kernel!(bf16_row, bf16_avx2, 2, load8_bf16, scalar::load_bf16);
}
