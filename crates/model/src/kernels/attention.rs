//! Causal attention over a KV cache on plain slices: the fused form of softmax(q·kᵀ)·v that
//! `layers::attention` and `layers::mla` call first (their candle form stays the definition and
//! runs when autograd tracks an input). It reads the cache's strided views in place, skips the
//! masked half instead of computing it, and never builds the (heads, len, t) score tensor, so
//! it also beats the matmul form on long prompts. Dots use FMA where the CPU has it.

use super::tensor_ops::{softmax_in_place, with_values};
use candle_core::{DType, Device, Result, Tensor, WithDType};
use half::f16;

/// What a KV cache holds: f32, or f16 widened to f32 as it is loaded.
pub(crate) trait KvElem: WithDType {
    const F16: bool;
    fn to_f32(self) -> f32;
}

impl KvElem for f32 {
    const F16: bool = false;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self
    }
}

impl KvElem for f16 {
    const F16: bool = true;
    #[inline(always)]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
}

/// Causal attention of q (h, len, dq) over k (kv, t, dq) and v (kv, t, dv), query i at position
/// pos + i seeing keys 0 ..= pos + i; query head j reads kv head j / (h / kv). Returns (h, len, dv).
pub fn attend(q: &Tensor, k: &Tensor, v: &Tensor, pos: usize, scale: f64) -> Result<Option<Tensor>> {
    let (Ok((h, len, dq)), Ok((kv, t, dk)), Ok((kv2, t2, dv))) = (q.dims3(), k.dims3(), v.dims3()) else {
        return Ok(None);
    };
    if dq != dk || kv != kv2 || t != t2 || kv == 0 || h % kv != 0 {
        return Ok(None);
    }
    // Cache views are the first t rows of a longer buffer: heads sit `stride[0]` apart.
    if k.stride()[1] != dq || v.stride()[1] != dv || k.dtype() != v.dtype() {
        return Ok(None);
    }
    let q = q.contiguous()?;
    with_values::<f32, _>(&[&q], |qs| {
        let shape = HeadShape { len, t, dq, dv, pos, scale: scale as f32 };
        let heads = Heads { h, kv, kstride: k.stride()[0], vstride: v.stride()[0] };
        let out = match k.dtype() {
            DType::F32 => with_values::<f32, _>(&[k, v], |kv| Ok(attend_values(shape, heads, qs[0], kv[0], kv[1])))?,
            DType::F16 => with_values::<f16, _>(&[k, v], |kv| Ok(attend_values(shape, heads, qs[0], kv[0], kv[1])))?,
            _ => None,
        };
        out.map(|out| Tensor::from_vec(out, (h, len, dv), &Device::Cpu)).transpose()
    })
    .map(Option::flatten)
}

/// Query heads `h` on `kv` key/value heads whose keys and values sit `kstride` and `vstride`
/// values apart.
#[derive(Clone, Copy)]
struct Heads {
    h: usize,
    kv: usize,
    kstride: usize,
    vstride: usize,
}

/// `attend` on plain values: q (h, len, dq), keys and values in the cache's layout.
fn attend_values<E: KvElem>(shape: HeadShape, heads: Heads, qs: &[f32], ks: &[E], vs: &[E]) -> Vec<f32> {
    let (HeadShape { len, t, dq, dv, .. }, Heads { h, kv, kstride, vstride }) = (shape, heads);
    let group = h / kv;
    // Query heads go to the threads in sets that share one kv head, so the SIMD kernel can
    // use each key and value it loads for several heads: as few heads per set as keep
    // every thread busy (sets divide the group).
    let threads = rayon::current_num_threads();
    let sets_per_kv = (1..=group).find(|&d| group % d == 0 && kv * d >= threads).unwrap_or(group);
    let per_set = group / sets_per_kv;
    let mut out = vec![0f32; h * len * dv];
    let cpu = crate::cpu::cpu_features();
    let fma = cpu.avx2_fma_f16c();
    #[cfg(target_arch = "x86_64")]
    let wide = fma && cpu.avx512_vl();
    let set = |si: usize, o: &mut [f32]| {
        let first = si * per_set;
        let (kh, vh) = (&ks[(first / group) * kstride..][..t * dq], &vs[(first / group) * vstride..][..t * dv]);
        let qh = &qs[first * len * dq..][..per_set * len * dq];
        #[cfg(target_arch = "x86_64")]
        if fma {
            // SAFETY: the CPU has AVX2, FMA and F16C (`avx2_fma_f16c`), and
            // AVX-512 F and VL where `wide`.
            return unsafe {
                if wide {
                    attend_heads_avx512(shape, per_set, qh, kh, vh, o)
                } else {
                    attend_heads_avx2(shape, per_set, qh, kh, vh, o)
                }
            };
        }
        let _ = fma;
        for (qh, o) in qh.chunks_exact(len * dq).zip(o.chunks_exact_mut(len * dv)) {
            attend_head::<false, E>(shape, qh, kh, vh, o);
        }
    };
    // Split over the cores once the cache is long enough to repay the dispatch.
    if h * len * t * (dq + dv) >= 1 << 16 {
        crate::cpu::parallel::for_each_chunk_mut(&mut out, per_set * len * dv, set);
    } else {
        out.chunks_exact_mut(per_set * len * dv).enumerate().for_each(|(si, o)| set(si, o));
    }
    out
}

#[derive(Clone, Copy)]
struct HeadShape {
    len: usize,
    t: usize,
    dq: usize,
    dv: usize,
    pos: usize,
    scale: f32,
}

/// One query head: `len` queries (rows of q) over `t` keys and values (rows of k, v).
#[inline(always)]
fn attend_head<const FMA: bool, E: KvElem>(s: HeadShape, q: &[f32], k: &[E], v: &[E], out: &mut [f32]) {
    let mut scores = vec![0f32; s.t];
    for i in 0..s.len {
        let qi = &q[i * s.dq..(i + 1) * s.dq];
        let seen = (s.pos + i + 1).min(s.t);
        for (score, kj) in scores[..seen].iter_mut().zip(k.chunks_exact(s.dq)) {
            *score = dot::<FMA, E>(qi, kj) * s.scale;
        }
        softmax_in_place(&mut scores[..seen]);
        let oi = &mut out[i * s.dv..(i + 1) * s.dv];
        oi.fill(0.0);
        for (&p, vj) in scores[..seen].iter().zip(v.chunks_exact(s.dv)) {
            oi.iter_mut().zip(vj).for_each(|(a, &b)| *a = madd::<FMA>(p, b.to_f32(), *a));
        }
    }
}

/// `attend_head` with AVX2 and FMA for `heads` query heads that share one kv head (q is
/// (heads, len, dq), out (heads, len, dv)), two heads at a time: each key or value vector
/// loaded serves both, so the loads per multiply-add fall from 1.25 to 0.75.
/// # Safety
/// The CPU has AVX2, FMA and F16C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn attend_heads_avx2<E: KvElem>(s: HeadShape, heads: usize, q: &[f32], k: &[E], v: &[E], out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2, FMA and F16C, all `attend_heads_tiled` needs.
    unsafe { attend_heads_tiled::<2, E>(s, heads, q, k, v, out) }
}

/// `attend_heads_avx2` three heads at a time, with AVX-512's 32 vector registers to hold the
/// twelve score accumulators (0.58 loads per multiply-add).
/// # Safety
/// The CPU has AVX2, FMA, F16C, AVX-512 F and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl")]
unsafe fn attend_heads_avx512<E: KvElem>(s: HeadShape, heads: usize, q: &[f32], k: &[E], v: &[E], out: &mut [f32]) {
    // SAFETY: the caller guarantees AVX2, FMA, F16C and AVX-512 F/VL, more than `attend_heads_tiled` needs.
    unsafe { attend_heads_tiled::<3, E>(s, heads, q, k, v, out) }
}

/// The body of the SIMD attention, `TILE` heads at a time (inlined into each caller, whose
/// features decide the registers). Scores are four keys' dots at a time, reduced together;
/// the weighted sum of values stays in registers 32 outputs at a time. Each score and output
/// is summed in one fixed order whatever the query's position or how heads are tiled, so
/// prefill equals decode and every head equals `attend_head` run alone.
/// # Safety
/// The CPU has AVX2, FMA and F16C.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn attend_heads_tiled<const TILE: usize, E: KvElem>(
    s: HeadShape,
    heads: usize,
    q: &[f32],
    k: &[E],
    v: &[E],
    out: &mut [f32],
) {
    let (dq, dv, len, t) = (s.dq, s.dv, s.len, s.t);
    if dq % 8 != 0 || dv % 8 != 0 {
        for (qh, o) in q.chunks_exact(len * dq).zip(out.chunks_exact_mut(len * dv)).take(heads) {
            attend_head::<true, E>(s, qh, k, v, o);
        }
        return;
    }
    assert!(q.len() >= heads * len * dq && k.len() >= t * dq && v.len() >= t * dv && out.len() >= heads * len * dv);
    let mut scores = vec![0f32; heads * t];
    let (scores_ptr, out_ptr) = (scores.as_mut_ptr(), out.as_mut_ptr());
    for i in 0..len {
        let seen = (s.pos + i + 1).min(t);
        // SAFETY (all calls): the lengths were checked above; head hd's query i, scores and
        // output row lie inside q, scores and out, and `seen` ≤ t keys inside k and v.
        let mut hd = 0;
        while hd < heads {
            let n = (heads - hd).min(TILE);
            // SAFETY: head hd + h < heads, query i < len: the offset is inside q (length asserted above).
            let qi = |h: usize| unsafe { q.as_ptr().add(((hd + h) * len + i) * dq) };
            // SAFETY: head hd + h < heads: its t scores are inside `scores` (heads · t values).
            let sc = |h: usize| unsafe { scores_ptr.add((hd + h) * t) };
            // SAFETY: features as this function's; q, k and the score rows hold what `scores_avx2` reads and writes
            // (lengths asserted above, seen ≤ t).
            unsafe {
                match n {
                    3 => scores_avx2::<3, E>(s, seen, [qi(0), qi(1), qi(2)], k.as_ptr(), [sc(0), sc(1), sc(2)]),
                    2 => scores_avx2::<2, E>(s, seen, [qi(0), qi(1)], k.as_ptr(), [sc(0), sc(1)]),
                    _ => scores_avx2::<1, E>(s, seen, [qi(0)], k.as_ptr(), [sc(0)]),
                }
            }
            hd += n;
        }
        for hd in 0..heads {
            // SAFETY: head hd's `seen` ≤ t scores lie inside `scores`.
            softmax_in_place(unsafe { std::slice::from_raw_parts_mut(scores_ptr.add(hd * t), seen) });
        }
        let mut hd = 0;
        while hd < heads {
            let n = (heads - hd).min(TILE);
            // SAFETY: head hd + h < heads, query i < len: the offset is inside out (length asserted above).
            let oi = |h: usize| unsafe { out_ptr.add(((hd + h) * len + i) * dv) };
            // SAFETY: head hd + h < heads: its t scores are inside `scores` (heads · t values).
            let sc = |h: usize| unsafe { scores_ptr.add((hd + h) * t) as *const f32 };
            // SAFETY: features as this function's; score rows, v and the output rows hold what
            // `weighted_values_avx2` reads and writes (lengths asserted above, seen ≤ t).
            unsafe {
                match n {
                    3 => {
                        weighted_values_avx2::<3, E>(dv, seen, [sc(0), sc(1), sc(2)], v.as_ptr(), [oi(0), oi(1), oi(2)])
                    }
                    2 => weighted_values_avx2::<2, E>(dv, seen, [sc(0), sc(1)], v.as_ptr(), [oi(0), oi(1)]),
                    _ => weighted_values_avx2::<1, E>(dv, seen, [sc(0)], v.as_ptr(), [oi(0)]),
                }
            }
            hd += n;
        }
    }
}

/// Scores of `H` query heads (`q[h]`: dq values) against keys 0..seen (rows of `k`), scaled,
/// into `out[h][0..seen]`.
/// # Safety
/// AVX2, FMA and F16C; dq a multiple of 8; the pointers hold what is named.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn scores_avx2<const H: usize, E: KvElem>(
    s: HeadShape,
    seen: usize,
    q: [*const f32; H],
    k: *const E,
    out: [*mut f32; H],
) {
    use std::arch::x86_64::*;
    let dq = s.dq;
    let mut j = 0;
    while j < seen {
        let n = (seen - j).min(4);
        let mut acc = [[_mm256_setzero_ps(); 4]; H];
        for c in (0..dq).step_by(8) {
            // SAFETY: c + 8 ≤ dq (a multiple of 8): inside each head's query.
            let qv: [__m256; H] = std::array::from_fn(|h| unsafe { _mm256_loadu_ps(q[h].add(c)) });
            // m indexes the accumulators of every head: no single array to iterate.
            #[allow(clippy::needless_range_loop)]
            for m in 0..n {
                // SAFETY: key j + m < seen ≤ t, values c..c + 8 of dq: inside k.
                let kv = unsafe { load8(k.add((j + m) * dq + c)) };
                for h in 0..H {
                    acc[h][m] = _mm256_fmadd_ps(qv[h], kv, acc[h][m]);
                }
            }
        }
        for h in 0..H {
            // Four horizontal sums at once: lanes [s0 s1 s2 s3] of the low and high halves.
            let a = &acc[h];
            let hs = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
            let sums =
                _mm_mul_ps(_mm_add_ps(_mm256_castps256_ps128(hs), _mm256_extractf128_ps(hs, 1)), _mm_set1_ps(s.scale));
            let mut four = [0f32; 4];
            // SAFETY: `four` holds 4 floats; n ≤ 4 scores j..j + n < seen ≤ t lie inside head h's score row.
            unsafe {
                _mm_storeu_ps(four.as_mut_ptr(), sums);
                std::ptr::copy_nonoverlapping(four.as_ptr(), out[h].add(j), n);
            }
        }
        j += n;
    }
}

/// out[h] = Σ_j p[h][j] · v_j over keys 0..seen for `H` heads, 32 outputs at a time in
/// registers, each summed in key order.
/// # Safety
/// AVX2, FMA and F16C; dv a multiple of 8; the pointers hold what is named.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
unsafe fn weighted_values_avx2<const H: usize, E: KvElem>(
    dv: usize,
    seen: usize,
    p: [*const f32; H],
    v: *const E,
    out: [*mut f32; H],
) {
    use std::arch::x86_64::*;
    for c in (0..dv).step_by(32) {
        let w = (dv - c).min(32) / 8;
        let mut o = [[_mm256_setzero_ps(); 4]; H];
        for jj in 0..seen {
            // SAFETY: jj < seen: inside head h's score row.
            let pv: [__m256; H] = std::array::from_fn(|h| _mm256_set1_ps(unsafe { *p[h].add(jj) }));
            // SAFETY: value row jj < seen ≤ t, column c < dv: inside v.
            let vj = unsafe { v.add(jj * dv + c) };
            #[allow(clippy::needless_range_loop)]
            for r in 0..w {
                // SAFETY: 8r + 8 ≤ 32 and c + 8r + 8 ≤ dv (w whole vectors left): inside value row jj.
                let x = unsafe { load8(vj.add(8 * r)) };
                for h in 0..H {
                    o[h][r] = _mm256_fmadd_ps(pv[h], x, o[h][r]);
                }
            }
        }
        for h in 0..H {
            for (r, acc) in o[h].iter().enumerate().take(w) {
                // SAFETY: c + 8r + 8 ≤ dv: inside head h's output row.
                unsafe { _mm256_storeu_ps(out[h].add(c + 8 * r), *acc) };
            }
        }
    }
}

/// Eight cached values as f32.
/// # Safety
/// AVX2 and F16C; `p` points at eight values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
#[inline]
unsafe fn load8<E: KvElem>(p: *const E) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees AVX2, F16C and eight readable values at p.
    unsafe {
        if E::F16 { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) } else { _mm256_loadu_ps(p as *const f32) }
    }
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    // mul_add is one instruction where FMA is enabled and a slow library call elsewhere.
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Eight partial sums, then a pairwise tree, then the tail: the compiler vectorises the loop,
/// and a score does not depend on the query's position.
#[inline(always)]
fn dot<const FMA: bool, E: KvElem>(q: &[f32], key: &[E]) -> f32 {
    let mut acc = [0f32; 8];
    let (qc, kc) = (q.chunks_exact(8), key.chunks_exact(8));
    let tail: f32 = qc.remainder().iter().zip(kc.remainder()).map(|(x, y)| x * y.to_f32()).sum();
    for (x, y) in qc.zip(kc) {
        for l in 0..8 {
            acc[l] = madd::<FMA>(x[l], y[l].to_f32(), acc[l]);
        }
    }
    let b: [f32; 4] = std::array::from_fn(|l| acc[l] + acc[l + 4]);
    ((b[0] + b[2]) + (b[1] + b[3])) + tail
}

#[cfg(test)]
mod tests {
    //! The fused attention against the matmul form, and its SIMD forms against the plain one.
    use crate::layers::attention::attend;
    use crate::layers::kv_cache::{KvDtype, LayerCache};
    use candle_core::{Device, Tensor, Var};

    fn tracked(t: &Tensor) -> Tensor {
        let v = Var::from_tensor(t).unwrap();
        assert!(v.as_tensor().track_op());
        v.as_tensor().clone()
    }

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let (a, b) =
            (a.flatten_all().unwrap().to_vec1::<f32>().unwrap(), b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn attention_over_cache_views_equals_the_matmul_form() {
        for dtype in [KvDtype::F32, KvDtype::F16] {
            attention_over_cache_views_equals_the_matmul_form_in(dtype);
        }
    }

    /// With an f16 cache both forms read the same rounded keys and values (the matmul form
    /// widens them), so they agree as closely as with f32.
    fn attention_over_cache_views_equals_the_matmul_form_in(dtype: KvDtype) {
        // 6 query heads on 2 kv heads; the cache's views are the first rows of a longer buffer.
        let (h, kv, d) = (6, 2, 24);
        let mut cache = LayerCache::new(dtype);
        cache.append(&[&random(&[kv, 6, d], 5), &random(&[kv, 6, d], 6)]).unwrap();
        // The last case has a cache long enough to split the heads over the threads.
        for (len, seed, grow) in [(3, 7, 0), (1, 8, 0), (1, 9, 300)] {
            if grow > 0 {
                cache.append(&[&random(&[kv, grow, d], seed + 30), &random(&[kv, grow, d], seed + 40)]).unwrap();
            }
            let kv_all = cache.append(&[&random(&[kv, len, d], seed), &random(&[kv, len, d], seed + 10)]).unwrap();
            let (k, v) = (&kv_all[0], &kv_all[1]);
            assert!(!k.is_contiguous(), "the test should exercise strided cache views");
            assert_eq!(k.dtype(), dtype.dtype());
            let t = k.dims()[1];
            let q = random(&[h, len, d], seed + 20);
            let fused = super::attend(&q, k, v, t - len, 0.2).unwrap().expect("fused attention");
            let reference = attend(&tracked(&q), k, v, t - len, 0.2).unwrap();
            assert!(max_diff(&fused, &reference) < 1e-5, "len {len} {dtype:?}");
            assert!(max_diff(&attend(&q, k, v, t - len, 0.2).unwrap(), &reference) < 1e-5);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn plain_and_avx2_heads_agree() {
        if !crate::cpu::cpu_features().avx2_fma_f16c() {
            return;
        }
        plain_and_avx2_heads_agree_on::<f32>();
        plain_and_avx2_heads_agree_on::<half::f16>();
    }

    #[cfg(target_arch = "x86_64")]
    fn plain_and_avx2_heads_agree_on<E: super::KvElem>() {
        for (len, t, dq, dv, pos) in [(1, 37, 64, 64, 36), (5, 21, 24, 40, 16), (3, 9, 12, 8, 6)] {
            let vals = |n: usize, seed: u64| random(&[n], seed).to_vec1::<f32>().unwrap();
            let cached =
                |n: usize, seed: u64| vals(n, seed).into_iter().map(|x| E::from_f64(x as f64)).collect::<Vec<E>>();
            let (q, k, v) = (vals(len * dq, 1), cached(t * dq, 2), cached(t * dv, 3));
            let shape = super::HeadShape { len, t, dq, dv, pos, scale: 0.3 };
            let (mut plain, mut simd) = (vec![0f32; len * dv], vec![0f32; len * dv]);
            super::attend_head::<false, E>(shape, &q, &k, &v, &mut plain);
            // SAFETY: checked above that this CPU has AVX2 and FMA.
            unsafe { super::attend_heads_avx2(shape, 1, &q, &k, &v, &mut simd) };
            let d = plain.iter().zip(&simd).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(d < 1e-5, "len {len} t {t} dq {dq} dv {dv} {:?}: {d}", E::DTYPE);
            // Several heads on the same keys (tiled by two, or by three with AVX-512) equal each
            // head alone, bit for bit, whatever the output held before.
            let wide = crate::cpu::cpu_features().avx512_vl();
            let heads = 7;
            let qs: Vec<f32> = (0..heads as u64).flat_map(|h| vals(len * dq, 40 + h)).collect();
            for avx512 in [false, wide] {
                let mut all = vec![f32::NAN; heads * len * dv];
                // SAFETY: checked above that this CPU has AVX2 and FMA (and AVX-512 F/VL where `avx512`, which is
                // `wide`); the buffers hold `heads` heads' queries and outputs.
                unsafe {
                    if avx512 {
                        super::attend_heads_avx512(shape, heads, &qs, &k, &v, &mut all)
                    } else {
                        super::attend_heads_avx2(shape, heads, &qs, &k, &v, &mut all)
                    }
                };
                for (hd, qh) in qs.chunks_exact(len * dq).enumerate() {
                    let mut alone = vec![0f32; len * dv];
                    // SAFETY: checked above that this CPU has AVX2 and FMA; qh is one head's queries.
                    unsafe { super::attend_heads_avx2(shape, 1, qh, &k, &v, &mut alone) };
                    assert_eq!(
                        &all[hd * len * dv..][..len * dv],
                        &alone[..],
                        "head {hd} of {heads}, t {t}, avx512 {avx512}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod timing {
    use candle_core::DType::{F16, F32};
    use candle_core::{Device, Tensor};

    /// `cargo test --release -p reasoner-model --lib attention_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn attention_timing() {
        // Qwen2.5-0.5B's heads (14 on 2 kv heads, d 64) and R1-Distill-1.5B's (12 on 2, d 128),
        // with f32 and f16 caches; 28 layers' caches cycled, so a long cache comes from memory as in a decode step.
        for (h, kv, d, dtype) in [(14, 2, 64, F32), (12, 2, 128, F32), (14, 2, 64, F16), (12, 2, 128, F16)] {
            for t in [128usize, 512, 2048] {
                let q = Tensor::ones((h, 1, d), F32, &Device::Cpu).unwrap();
                let cache = || Tensor::ones((kv, t, d), dtype, &Device::Cpu).unwrap();
                let layers: Vec<(Tensor, Tensor)> = (0..28).map(|_| (cache(), cache())).collect();
                let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
                pool.install(|| {
                    let n = 560;
                    let start = std::time::Instant::now();
                    for i in 0..n {
                        let (k, v) = &layers[i % layers.len()];
                        super::attend(&q, k, v, t - 1, 0.125).unwrap().unwrap();
                    }
                    let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
                    let gflops = (h * t * d * 4) as f64 / us / 1e3;
                    eprintln!(
                        "h {h} kv {kv} d {d} t {t} {dtype:?}: {us:.1} us per layer-step, {gflops:.1} GFLOP/s (1 thread)"
                    );
                });
            }
        }
    }
}
