//! Eight-wide `exp` for the per-token tensor ops (softmax, SiLU), on AVX2 with FMA.
//!
//! A decode step of the 0.5B shape takes ~120k exponentials for SiLU and ~50k for attention at
//! 150 tokens of context; the C library's scalar `expf` spent ~4% of the step on them. This is
//! the Cephes single-precision method (range reduction by ln 2 split in two parts, a degree-5
//! polynomial on [-ln2/2, ln2/2], scaling by 2ⁿ through the exponent bits): within 2 ulp of
//! `f32::exp` where the result is a normal number. Below -87.33 it gives 0 (the true value is
//! subnormal or 0) and above 88.37 +inf (the true value overflows from 88.72).

/// `xs[i] = exp(xs[i] - shift)`; returns the sum of the results (softmax's denominator).
pub fn exp_shifted_sum(xs: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { avx2::exp_shifted_sum(xs, shift) };
    }
    let mut sum = 0f32;
    for a in xs.iter_mut() {
        *a = (*a - shift).exp();
        sum += *a;
    }
    sum
}

/// `out[i] = silu(gate[i]) · up[i]` with silu(g) = g / (1 + exp(-g)).
pub fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(gate.len() == up.len() && up.len() == out.len(), "silu_mul: lengths differ");
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { avx2::silu_mul(gate, up, out) };
    }
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = g / (1.0 + (-g).exp()) * u;
    }
}

fn has_avx2_fma() -> bool {
    crate::cpu::cpu_features().avx2_fma()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    const LO: f32 = -87.336_55;
    const HI: f32 = 88.376_26;

    /// exp of eight lanes (see the module notes for accuracy and range).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub fn exp8(x: __m256) -> __m256 {
        let xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(LO)), _mm256_set1_ps(HI));
        // n = round(x / ln 2); r = x - n ln 2 with ln 2 in two parts so r stays exact.
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
            xc,
            _mm256_set1_ps(std::f32::consts::LOG2_E),
        ));
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), xc);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm256_set1_ps(1.987_569_1e-4);
        for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 5e-1] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
        }
        let y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0));
        let pow2n = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        )));
        let e = _mm256_mul_ps(y, pow2n);
        // Outside the range: 0 below, +inf above; NaN stays NaN (it fails both compares and the
        // clamp above turned it into a number, so take it back from x).
        let e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(LO)));
        let e = _mm256_blendv_ps(e, _mm256_set1_ps(f32::INFINITY), _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(HI)));
        _mm256_blendv_ps(e, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
    }

    /// Loads up to eight values (the rest padded with `pad`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(xs: &[f32], pad: f32) -> __m256 {
        if xs.len() == 8 {
            // SAFETY: xs holds eight floats.
            return unsafe { _mm256_loadu_ps(xs.as_ptr()) };
        }
        // A short tail through a padded buffer (a copy of unknown length is a library call:
        // kept off the full vectors).
        let mut buf = [pad; 8];
        buf[..xs.len()].copy_from_slice(xs);
        // SAFETY: buf holds eight floats.
        unsafe { _mm256_loadu_ps(buf.as_ptr()) }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn store(v: __m256, out: &mut [f32]) {
        if out.len() == 8 {
            // SAFETY: out holds eight floats.
            return unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        }
        let mut buf = [0f32; 8];
        // SAFETY: buf holds eight floats.
        unsafe { _mm256_storeu_ps(buf.as_mut_ptr(), v) };
        out.copy_from_slice(&buf[..out.len()]);
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn exp_shifted_sum(xs: &mut [f32], shift: f32) -> f32 {
        let s = _mm256_set1_ps(shift);
        let mut acc = _mm256_setzero_ps();
        for chunk in xs.chunks_mut(8) {
            // Padding lanes get exp(-inf) = 0 and add nothing to the sum.
            let e = exp8(_mm256_sub_ps(load(chunk, f32::NEG_INFINITY), s));
            store(e, chunk);
            acc = _mm256_add_ps(acc, e);
        }
        let h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
        let one = _mm256_set1_ps(1.0);
        for ((g, u), o) in gate.chunks(8).zip(up.chunks(8)).zip(out.chunks_mut(8)) {
            let g = load(g, 0.0);
            let e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
            store(_mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), load(u, 0.0)), o);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exp_is_within_two_ulp_of_the_c_library() {
        let xs: Vec<f32> = (0..200_000).map(|i| -87.3 + 175.6 * i as f32 / 200_000.0).collect();
        let mut got = xs.clone();
        super::exp_shifted_sum(&mut got, 0.0);
        let mut worst = 0f32;
        for (&x, &e) in xs.iter().zip(&got) {
            let want = x.exp();
            let ulp = (want.to_bits() as i64 - e.to_bits() as i64).abs() as f32;
            worst = worst.max(ulp);
        }
        assert!(worst <= 2.0, "worst {worst} ulp");
        // A softmax-sized row: the returned sum is the outputs' sum.
        let mut row: Vec<f32> = (0..4099).map(|i| -20.0 * (i as f32 * 0.618).fract()).collect();
        let sum = super::exp_shifted_sum(&mut row, -1.0);
        let want: f64 = row.iter().map(|&e| e as f64).sum();
        assert!(((sum as f64 - want) / want).abs() < 1e-6, "{sum} vs {want}");
        let mut edges = [f32::NEG_INFINITY, -200.0, 200.0, f32::INFINITY, f32::NAN, 0.0, 1.0, -1.0, 88.0];
        super::exp_shifted_sum(&mut edges, 0.0);
        assert_eq!(&edges[..4], &[0.0, 0.0, f32::INFINITY, f32::INFINITY]);
        assert!(edges[4].is_nan());
        assert_eq!(edges[5], 1.0);
        assert!((edges[6] - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
        assert!((edges[8] / 88f32.exp() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn silu_mul_matches_the_formula() {
        let g: Vec<f32> = (0..1001).map(|i| -30.0 + 0.06 * i as f32).collect();
        let u: Vec<f32> = (0..1001).map(|i| 1.0 + 0.001 * i as f32).collect();
        let mut out = vec![0f32; g.len()];
        super::silu_mul(&g, &u, &mut out);
        for ((&g, &u), &o) in g.iter().zip(&u).zip(&out) {
            let want = g / (1.0 + (-g).exp()) * u;
            assert!((o - want).abs() <= 1e-6 * want.abs().max(1e-3), "silu({g}) * {u}: {o} vs {want}");
        }
    }
}
