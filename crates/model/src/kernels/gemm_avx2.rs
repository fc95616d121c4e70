//! Tiled integer GEMM for Q8_0 weights × Q8_0-quantized activations (prefill), in the manner of
//! llama.cpp's repacked `gemm_q4_0_8x8_q8_0`. Eight weight rows are repacked so that one vector
//! holds the same four bytes of a block from each row; an integer dot with four activation bytes
//! broadcast to all lanes then leaves each row's partial sum in its own lane, so a tile of
//! 8 rows × 4 activations needs no horizontal sums and each loaded weight vector serves four
//! activations. The float steps per (row, activation) are exactly the row-dot kernel's
//! (d = dw·da, lane b % 8 += d·sum, then `sum_lanes`), so results equal it bit for bit.
//!
//! Two integer cores: AVX2 (sign trick, `maddubs` + `madd`) and, where the CPU has AVX-512 VNNI
//! with VL, `vpdpbusd` on 256-bit vectors with the weights offset to unsigned (w + 128) and the
//! offset removed exactly with 128·Σy per activation block.

use super::Q8Row;
use crate::quant::BlockQ8K;

/// Which integer core the tiled GEMM uses on this CPU, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmCore {
    Avx2,
    Vnni,
}

/// The fastest core this CPU can run (`REASONER_GEMM=avx2` forces the AVX2 one).
pub fn detect() -> Option<GemmCore> {
    #[cfg(target_arch = "x86_64")]
    {
        let cpu = crate::cpu::cpu_features();
        if !cpu.avx2_fma_f16c() {
            return None;
        }
        let vnni = cpu.avx512_vnni();
        if vnni && std::env::var("REASONER_GEMM").as_deref() != Ok("avx2") {
            return Some(GemmCore::Vnni);
        }
        return Some(GemmCore::Avx2);
    }
    #[allow(unreachable_code)]
    None
}

/// Every core this CPU can run (tests compare all of them with the row-dot kernels).
pub fn available() -> Vec<GemmCore> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let cpu = crate::cpu::cpu_features();
        if cpu.avx2_fma_f16c() {
            out.push(GemmCore::Avx2);
            if cpu.avx512_vnni() {
                out.push(GemmCore::Vnni);
            }
        }
    }
    out
}

/// Weight rows per tile (the lanes of one i32 vector).
pub(super) const TILE_R: usize = 8;
/// Activation rows per tile.
pub(super) const TILE_A: usize = 4;

/// The 32-value block types that share one tile kernel: each is decoded to signed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Block32 {
    Q8_0,
    Q4_0,
    Q5_0,
}

impl Block32 {
    pub(super) fn bytes(self) -> usize {
        match self {
            Block32::Q8_0 => crate::quant::BLOCK_Q8_0,
            Block32::Q4_0 => crate::quant::BLOCK_Q4_0,
            Block32::Q5_0 => crate::quant::BLOCK_Q5_0,
        }
    }
}

/// `out[i * acts.len() + a] = row_dot(weight row first_row + i, acts[a])` for `n_rows` rows of
/// `rb` bytes in `data` (Q8_0, Q4_0 or Q5_0 as `kind` says). `ysum128[a][b]` is 128·Σ(block b of activation a), used by the
/// VNNI core.
#[allow(clippy::too_many_arguments)]
pub(super) fn block32_band(
    core: GemmCore,
    kind: Block32,
    data: &[u8],
    rb: usize,
    first_row: usize,
    n_rows: usize,
    acts: &[Q8Row],
    ysum128: &[Vec<i32>],
    out: &mut [f32],
) {
    let batch = acts.len();
    assert_eq!(out.len(), n_rows * batch);
    assert!(data.len() >= (first_row + n_rows) * rb);
    for a in acts {
        assert_eq!(a.n_blocks() * kind.bytes(), rb, "weight row and activation lengths differ");
    }
    // The VNNI core reads ysum128[a][b] for every activation and block unchecked.
    assert!(
        ysum128.len() == batch && ysum128.iter().all(|y| y.len() * kind.bytes() == rb),
        "ysum128 does not match the activations"
    );
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `core` came from `detect`/`available`, which checked the CPU features; the
        // lengths were checked above.
        unsafe { imp::band(core, kind, data, rb, first_row, n_rows, acts, ysum128, out) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (core, kind, ysum128);
        unreachable!("no tiled GEMM core on this architecture")
    }
}

/// As `block32_band` for Q4_K weights and Q8_K activations (`acts[a]` is one activation row's
/// super-blocks).
pub(super) fn q4_k_band(
    core: GemmCore,
    data: &[u8],
    rb: usize,
    first_row: usize,
    n_rows: usize,
    acts: &[Vec<BlockQ8K>],
    out: &mut [f32],
) {
    let batch = acts.len();
    assert_eq!(out.len(), n_rows * batch);
    assert!(data.len() >= (first_row + n_rows) * rb);
    for a in acts {
        assert_eq!(a.len() * crate::quant::BLOCK_Q4_K, rb, "weight row and activation lengths differ");
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: as in `block32_band`.
        unsafe { imp::band_k(core, data, rb, first_row, n_rows, acts, out) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = core;
        unreachable!("no tiled GEMM core on this architecture")
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::*;

    use super::super::avx2::imp::{bytes_from_bits, nibbles};
    use super::super::{Q8Row, scalar};
    use super::{Block32, GemmCore, TILE_A, TILE_R};
    use crate::quant::k_quants::{BLOCK_Q4_K, BlockQ8K};

    /// Eight weight rows repacked so that one vector holds the same four bytes of a block from
    /// each row (lane r = row r): `q[8 * b + c]` holds bytes 4c..4c+4 of block b, and `d[b]` the
    /// eight rows' scales of block b. An integer dot with four activation bytes broadcast to
    /// every lane then gives each row's partial sum in its own lane, with no horizontal sums.
    struct Packed {
        q: Vec<__m256i>,
        d: Vec<__m256>,
    }

    /// The 32 values of the block at `p` as signed bytes, in order.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn decode(kind: Block32, p: *const u8) -> __m256i {
        match kind {
            // SAFETY: the caller passes a whole block of `kind`: a Q8_0 block's 32 quants follow its 2-byte scale.
            Block32::Q8_0 => unsafe { _mm256_loadu_si256(p.add(2) as *const __m256i) },
            // SAFETY: the caller passes a whole block of `kind`: a Q4_0 block's 16 nibble bytes follow its 2-byte scale.
            Block32::Q4_0 => _mm256_sub_epi8(unsafe { nibbles(p.add(2)) }, _mm256_set1_epi8(8)),
            Block32::Q5_0 => {
                // SAFETY: the caller passes a whole block of `kind`: a Q5_0 block's 4 high-bit bytes follow its 2-byte scale.
                let qh = unsafe { (p.add(2) as *const u32).read_unaligned() };
                let high = _mm256_and_si256(bytes_from_bits(qh), _mm256_set1_epi8(0x10));
                // SAFETY: the caller passes a whole block of `kind`: a Q5_0 block's 16 nibble bytes start at byte 6.
                _mm256_sub_epi8(_mm256_or_si256(unsafe { nibbles(p.add(6)) }, high), _mm256_set1_epi8(16))
            }
        }
    }

    /// Rows of eight 32-bit values to columns: `out[c]` lane r = `v[r]` lane c.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn transpose8(v: &[__m256i; 8]) -> [__m256i; 8] {
        let t: [__m256i; 8] = std::array::from_fn(|i| {
            let (a, b) = (v[2 * (i / 2)], v[2 * (i / 2) + 1]);
            if i % 2 == 0 { _mm256_unpacklo_epi32(a, b) } else { _mm256_unpackhi_epi32(a, b) }
        });
        // t[0], t[1]: rows 0-1 (lo, hi); t[2], t[3]: rows 2-3; t[4..6]: rows 4-5; t[6..8]: rows 6-7.
        let u = |lo: __m256i, hi: __m256i| [_mm256_unpacklo_epi64(lo, hi), _mm256_unpackhi_epi64(lo, hi)];
        let [u0, u1] = u(t[0], t[2]);
        let [u2, u3] = u(t[1], t[3]);
        let [u4, u5] = u(t[4], t[6]);
        let [u6, u7] = u(t[5], t[7]);
        [
            _mm256_permute2x128_si256(u0, u4, 0x20),
            _mm256_permute2x128_si256(u1, u5, 0x20),
            _mm256_permute2x128_si256(u2, u6, 0x20),
            _mm256_permute2x128_si256(u3, u7, 0x20),
            _mm256_permute2x128_si256(u0, u4, 0x31),
            _mm256_permute2x128_si256(u1, u5, 0x31),
            _mm256_permute2x128_si256(u2, u6, 0x31),
            _mm256_permute2x128_si256(u3, u7, 0x31),
        ]
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn repack(kind: Block32, rows: &[*const u8; TILE_R], nb: usize, xor: i8, out: &mut Packed) {
        out.q.clear();
        out.d.clear();
        let x = _mm256_set1_epi8(xor);
        let bytes = kind.bytes();
        for b in 0..nb {
            let mut sc = [0i16; 8];
            for (r, s) in sc.iter_mut().enumerate() {
                // SAFETY: each row pointer starts a row of nb blocks (the caller's contract) and b < nb: block b's
                // 2-byte scale is inside it.
                *s = unsafe { (rows[r].add(b * bytes) as *const i16).read_unaligned() };
            }
            // SAFETY: `sc` is eight i16 values, 16 bytes.
            out.d.push(_mm256_cvtph_ps(unsafe { _mm_loadu_si128(sc.as_ptr() as *const __m128i) }));
            // SAFETY: block b < nb of row r is inside the row; features as this function's.
            let v: [__m256i; 8] = std::array::from_fn(|r| unsafe { decode(kind, rows[r].add(b * bytes)) });
            for col in transpose8(&v) {
                out.q.push(_mm256_xor_si256(col, x));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn band(
        core: GemmCore,
        kind: Block32,
        data: &[u8],
        rb: usize,
        first_row: usize,
        n_rows: usize,
        acts: &[Q8Row],
        ysum128: &[Vec<i32>],
        out: &mut [f32],
    ) {
        let batch = acts.len();
        let nb = rb / kind.bytes();
        let mut packed = Packed { q: Vec::with_capacity(nb * 8), d: Vec::with_capacity(nb) };
        let mut r0 = 0;
        while r0 < n_rows {
            let nr = TILE_R.min(n_rows - r0);
            // Rows past the end repeat the last one; their results are dropped.
            // SAFETY: rows first_row + r0 + i.min(nr - 1) < first_row + n_rows, all inside `data` (asserted by
            // `block32_band`).
            let rows: [*const u8; TILE_R] =
                std::array::from_fn(|i| unsafe { data.as_ptr().add((first_row + r0 + i.min(nr - 1)) * rb) });
            let xor = if core == GemmCore::Vnni { 0x80u8 as i8 } else { 0 };
            // SAFETY: the CPU has AVX2, FMA and F16C (`core` came from `detect`); each row holds nb blocks.
            unsafe { repack(kind, &rows, nb, xor, &mut packed) };
            let mut a0 = 0;
            while a0 < batch {
                let na = if batch - a0 >= TILE_A { TILE_A } else { 1 };
                let mut res = [[0f32; TILE_R]; TILE_A];
                // SAFETY: `core` came from `detect`/`available`, so the CPU has what its tile needs (VNNI for
                // `tile_vnni`); acts[a0..] and ysum128[a0..] hold at least na rows of nb blocks (asserted).
                unsafe {
                    match (core, na) {
                        (GemmCore::Avx2, TILE_A) => {
                            tile::<TILE_A, false>(&packed, &acts[a0..], &ysum128[a0..], &mut res)
                        }
                        (GemmCore::Vnni, TILE_A) => tile_vnni::<TILE_A>(&packed, &acts[a0..], &ysum128[a0..], &mut res),
                        (GemmCore::Avx2, _) => tile::<1, false>(&packed, &acts[a0..], &ysum128[a0..], &mut res),
                        (GemmCore::Vnni, _) => tile_vnni::<1>(&packed, &acts[a0..], &ysum128[a0..], &mut res),
                    }
                }
                for (a, ra) in res.iter().enumerate().take(na) {
                    for (i, v) in ra.iter().enumerate().take(nr) {
                        out[(r0 + i) * batch + a0 + a] = *v;
                    }
                }
                a0 += na;
            }
            r0 += nr;
        }
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    unsafe fn tile_vnni<const A: usize>(
        p: &Packed,
        acts: &[Q8Row],
        ysum128: &[Vec<i32>],
        out: &mut [[f32; TILE_R]; TILE_A],
    ) {
        // SAFETY: the caller guarantees AVX2, FMA, F16C and AVX-512 VNNI/VL, which `tile` with VNNI needs.
        unsafe { tile::<A, true>(p, acts, ysum128, out) }
    }

    /// Eight rows × A activations. Per block, the eight block sums of each activation are one
    /// i32 vector (lane = row); d·sums goes into accumulator b % 8 as the row-dot kernel's lane
    /// b % 8, and the eight accumulators are summed in `sum_lanes` order, so results equal the
    /// row-dot kernel's bit for bit.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn tile<const A: usize, const VNNI: bool>(
        p: &Packed,
        acts: &[Q8Row],
        ysum128: &[Vec<i32>],
        out: &mut [[f32; TILE_R]; TILE_A],
    ) {
        let nb = p.d.len();
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); 8]; A];
        let qp: [*const i8; A] = std::array::from_fn(|a| acts[a].qs.as_ptr());
        for b in 0..nb {
            let mut s = [_mm256_setzero_si256(); A];
            for c in 0..8 {
                // SAFETY: `repack` pushed eight vectors per block and b < nb = p.d.len(), so 8b + c < p.q.len().
                let w = unsafe { *p.q.get_unchecked(8 * b + c) };
                if VNNI {
                    for a in 0..A {
                        // SAFETY: activation a < A has nb blocks of 32 values (asserted), and 32b + 4c + 4 ≤ 32nb.
                        let y =
                            _mm256_set1_epi32(unsafe { (qp[a].add(32 * b + 4 * c) as *const i32).read_unaligned() });
                        // SAFETY: VNNI is set only by `tile_vnni`, whose features include AVX-512 VNNI and VL.
                        s[a] = unsafe { vnni_dot(s[a], w, y) };
                    }
                } else {
                    let aw = _mm256_sign_epi8(w, w);
                    for a in 0..A {
                        // SAFETY: activation a < A has nb blocks of 32 values (asserted), and 32b + 4c + 4 ≤ 32nb.
                        let y =
                            _mm256_set1_epi32(unsafe { (qp[a].add(32 * b + 4 * c) as *const i32).read_unaligned() });
                        let m = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(y, w)), ones);
                        s[a] = _mm256_add_epi32(s[a], m);
                    }
                }
            }
            // SAFETY: b < nb = p.d.len().
            let dw = unsafe { *p.d.get_unchecked(b) };
            for a in 0..A {
                let mut si = s[a];
                if VNNI {
                    // SAFETY: `block32_band` asserted ysum128[a] has nb entries, and b < nb.
                    si = _mm256_sub_epi32(si, _mm256_set1_epi32(unsafe { *ysum128[a].get_unchecked(b) }));
                }
                // SAFETY: activation a has nb block scales (asserted), and b < nb.
                let d = _mm256_mul_ps(dw, _mm256_set1_ps(unsafe { *acts[a].d.get_unchecked(b) }));
                let j = b % 8;
                acc[a][j] = _mm256_add_ps(acc[a][j], _mm256_mul_ps(d, _mm256_cvtepi32_ps(si)));
            }
        }
        for a in 0..A {
            let l = &acc[a];
            let t = [
                _mm256_add_ps(l[0], l[4]),
                _mm256_add_ps(l[1], l[5]),
                _mm256_add_ps(l[2], l[6]),
                _mm256_add_ps(l[3], l[7]),
            ];
            let v = _mm256_add_ps(_mm256_add_ps(t[0], t[2]), _mm256_add_ps(t[1], t[3]));
            // SAFETY: `out[a]` holds TILE_R = 8 floats.
            unsafe { _mm256_storeu_ps(out[a].as_mut_ptr(), v) };
        }
    }

    /// `vpdpbusd` where the caller has checked AVX-512 VNNI and VL (only `tile_vnni` reaches it).
    #[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn vnni_dot(acc: __m256i, uw: __m256i, y: __m256i) -> __m256i {
        _mm256_dpbusd_epi32(acc, uw, y)
    }

    /// Eight Q4_K rows repacked: per super-block b, `q[64 b + 8 t + c]` holds values 4c..4c+4 of
    /// sub-block t of each row (0..15, lane = row); `sc[8 b + t]` the rows' scales of sub-block
    /// t (i32 lanes); `m[4 b + u]` the mins of sub-blocks 2u and 2u+1 as i16 pairs; `d`, `dmin`
    /// the f16 super-block scales as f32.
    struct PackedK {
        q: Vec<__m256i>,
        sc: Vec<__m256i>,
        m: Vec<__m256i>,
        d: Vec<__m256>,
        dmin: Vec<__m256>,
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn repack_k(rows: &[*const u8; TILE_R], nsb: usize, out: &mut PackedK) {
        out.q.clear();
        out.sc.clear();
        out.m.clear();
        out.d.clear();
        out.dmin.clear();
        for b in 0..nsb {
            // SAFETY: each row pointer starts a row of nsb Q4_K super-blocks (the caller's contract) and b < nsb.
            let blk = |r: usize| unsafe { std::slice::from_raw_parts(rows[r].add(b * BLOCK_Q4_K), BLOCK_Q4_K) };
            let mut scs = [[0u8; 8]; TILE_R];
            let mut mins = [[0u8; 8]; TILE_R];
            let mut dd = [0u16; 8];
            let mut dm = [0u16; 8];
            for r in 0..TILE_R {
                let wb = blk(r);
                (scs[r], mins[r]) = scalar::q4_k_scales_mins(&wb[4..16]);
                dd[r] = u16::from_le_bytes([wb[0], wb[1]]);
                dm[r] = u16::from_le_bytes([wb[2], wb[3]]);
            }
            // SAFETY: `dd` is eight u16 values, 16 bytes.
            out.d.push(_mm256_cvtph_ps(unsafe { _mm_loadu_si128(dd.as_ptr() as *const __m128i) }));
            // SAFETY: `dm` is eight u16 values, 16 bytes.
            out.dmin.push(_mm256_cvtph_ps(unsafe { _mm_loadu_si128(dm.as_ptr() as *const __m128i) }));
            // A transpose: scale t of every row into one vector.
            #[allow(clippy::needless_range_loop)]
            for t in 0..8 {
                let v: [i32; 8] = std::array::from_fn(|r| scs[r][t] as i32);
                // SAFETY: `v` is eight i32 values, one vector.
                out.sc.push(unsafe { _mm256_loadu_si256(v.as_ptr() as *const __m256i) });
            }
            for u in 0..4 {
                let v: [i32; 8] = std::array::from_fn(|r| mins[r][2 * u] as i32 | (mins[r][2 * u + 1] as i32) << 16);
                // SAFETY: `v` is eight i32 values, one vector.
                out.m.push(unsafe { _mm256_loadu_si256(v.as_ptr() as *const __m256i) });
            }
            for t in 0..8 {
                let (j, shift) = (t / 2, 4 * (t % 2));
                for c in 0..8 {
                    let v: [i32; 8] = std::array::from_fn(|r| {
                        let wb = blk(r);
                        let o = 16 + 32 * j + 4 * c;
                        let u = u32::from_le_bytes([wb[o], wb[o + 1], wb[o + 2], wb[o + 3]]);
                        ((u >> shift) & 0x0F0F_0F0F) as i32
                    });
                    // SAFETY: `v` is eight i32 values, one vector.
                    out.q.push(unsafe { _mm256_loadu_si256(v.as_ptr() as *const __m256i) });
                }
            }
        }
    }

    pub(super) unsafe fn band_k(
        core: GemmCore,
        data: &[u8],
        rb: usize,
        first_row: usize,
        n_rows: usize,
        acts: &[Vec<BlockQ8K>],
        out: &mut [f32],
    ) {
        let batch = acts.len();
        let nsb = rb / BLOCK_Q4_K;
        let mut packed = PackedK {
            q: Vec::with_capacity(nsb * 64),
            sc: Vec::with_capacity(nsb * 8),
            m: Vec::with_capacity(nsb * 4),
            d: Vec::with_capacity(nsb),
            dmin: Vec::with_capacity(nsb),
        };
        let mut r0 = 0;
        while r0 < n_rows {
            let nr = TILE_R.min(n_rows - r0);
            // SAFETY: rows first_row + r0 + i.min(nr - 1) < first_row + n_rows, all inside `data` (asserted by
            // `q4_k_band`).
            let rows: [*const u8; TILE_R] =
                std::array::from_fn(|i| unsafe { data.as_ptr().add((first_row + r0 + i.min(nr - 1)) * rb) });
            // SAFETY: the CPU has AVX2, FMA and F16C (`core` came from `detect`); each row holds nsb super-blocks.
            unsafe { repack_k(&rows, nsb, &mut packed) };
            let mut a0 = 0;
            while a0 < batch {
                let na = if batch - a0 >= TILE_A { TILE_A } else { 1 };
                let mut res = [[0f32; TILE_R]; TILE_A];
                // SAFETY: `core` came from `detect`/`available`, so the CPU has what its tile needs (VNNI for
                // `tile_k_vnni`); acts[a0..] holds at least na rows of nsb super-blocks (asserted).
                unsafe {
                    match (core, na) {
                        (GemmCore::Avx2, TILE_A) => tile_k::<TILE_A, false>(&packed, &acts[a0..], &mut res),
                        (GemmCore::Vnni, TILE_A) => tile_k_vnni::<TILE_A>(&packed, &acts[a0..], &mut res),
                        (GemmCore::Avx2, _) => tile_k::<1, false>(&packed, &acts[a0..], &mut res),
                        (GemmCore::Vnni, _) => tile_k_vnni::<1>(&packed, &acts[a0..], &mut res),
                    }
                }
                for (a, ra) in res.iter().enumerate().take(na) {
                    for (i, v) in ra.iter().enumerate().take(nr) {
                        out[(r0 + i) * batch + a0 + a] = *v;
                    }
                }
                a0 += na;
            }
            r0 += nr;
        }
    }

    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    unsafe fn tile_k_vnni<const A: usize>(p: &PackedK, acts: &[Vec<BlockQ8K>], out: &mut [[f32; TILE_R]; TILE_A]) {
        // SAFETY: the caller guarantees AVX2, FMA, F16C and AVX-512 VNNI/VL, which `tile_k` with VNNI needs.
        unsafe { tile_k::<A, true>(p, acts, out) }
    }

    /// Eight Q4_K rows × A activations, with `scalar::q4_k_lane`'s float steps per lane.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn tile_k<const A: usize, const VNNI: bool>(
        p: &PackedK,
        acts: &[Vec<BlockQ8K>],
        out: &mut [[f32; TILE_R]; TILE_A],
    ) {
        let nsb = p.d.len();
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); 8]; A];
        for b in 0..nsb {
            // SAFETY: a < A ≤ acts.len(), and each activation row has nsb super-blocks (asserted); b < nsb.
            let ab: [&BlockQ8K; A] = std::array::from_fn(|a| unsafe { acts[a].get_unchecked(b) });
            let mut sumi = [_mm256_setzero_si256(); A];
            for t in 0..8 {
                let mut s = [_mm256_setzero_si256(); A];
                for c in 0..8 {
                    // SAFETY: `repack_k` pushed 64 vectors per super-block and b < nsb, so 64b + 8t + c < p.q.len().
                    let w = unsafe { *p.q.get_unchecked(64 * b + 8 * t + c) };
                    for a in 0..A {
                        // SAFETY: 32t + 4c + 4 ≤ 256 values of the super-block's `qs`.
                        let y = _mm256_set1_epi32(unsafe {
                            (ab[a].qs.as_ptr().add(32 * t + 4 * c) as *const i32).read_unaligned()
                        });
                        s[a] = if VNNI {
                            // SAFETY: VNNI is set only by `tile_k_vnni`, whose features include AVX-512 VNNI and VL.
                            unsafe { vnni_dot(s[a], w, y) }
                        } else {
                            _mm256_add_epi32(s[a], _mm256_madd_epi16(_mm256_maddubs_epi16(w, y), ones))
                        };
                    }
                }
                // SAFETY: `repack_k` pushed eight scale vectors per super-block and b < nsb.
                let sc = unsafe { *p.sc.get_unchecked(8 * b + t) };
                for a in 0..A {
                    sumi[a] = _mm256_add_epi32(sumi[a], _mm256_mullo_epi32(s[a], sc));
                }
            }
            // SAFETY: one d and one dmin per super-block, b < nsb.
            let (dw, dmin) = unsafe { (*p.d.get_unchecked(b), *p.dmin.get_unchecked(b)) };
            for a in 0..A {
                let bs = &ab[a].bsums;
                let mut summ = _mm256_setzero_si256();
                for u in 0..4 {
                    let lo = (bs[4 * u] + bs[4 * u + 1]) as u16 as i32;
                    let hi = (bs[4 * u + 2] + bs[4 * u + 3]) as i32;
                    let y = _mm256_set1_epi32(lo | hi << 16);
                    // SAFETY: `repack_k` pushed four min vectors per super-block and b < nsb.
                    summ = _mm256_add_epi32(summ, _mm256_madd_epi16(unsafe { *p.m.get_unchecked(4 * b + u) }, y));
                }
                let ad = _mm256_set1_ps(ab[a].d);
                let v = _mm256_sub_ps(
                    _mm256_mul_ps(_mm256_mul_ps(ad, dw), _mm256_cvtepi32_ps(sumi[a])),
                    _mm256_mul_ps(_mm256_mul_ps(ad, dmin), _mm256_cvtepi32_ps(summ)),
                );
                let j = b % 8;
                acc[a][j] = _mm256_add_ps(acc[a][j], v);
            }
        }
        for a in 0..A {
            let l = &acc[a];
            let t = [
                _mm256_add_ps(l[0], l[4]),
                _mm256_add_ps(l[1], l[5]),
                _mm256_add_ps(l[2], l[6]),
                _mm256_add_ps(l[3], l[7]),
            ];
            let v = _mm256_add_ps(_mm256_add_ps(t[0], t[2]), _mm256_add_ps(t[1], t[3]));
            // SAFETY: `out[a]` holds TILE_R = 8 floats.
            unsafe { _mm256_storeu_ps(out[a].as_mut_ptr(), v) };
        }
    }
}
