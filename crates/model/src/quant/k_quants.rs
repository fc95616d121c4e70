//! K-quants: 256-value super-blocks. Q4_K (8 sub-blocks of 32, 6-bit scales and mins, 4-bit
//! values), Q6_K (16 sub-blocks of 16, 8-bit scales, 6-bit values) and Q8_K, the activation
//! format their dot products use. Quantizers port `quantize_row_q4_K_ref` (make_qkx2_quants)
//! and `quantize_row_q6_K_ref` (make_qx_quants) from ggml-quants.c without reordering float ops.

use super::blocks::read_f16;
use super::float::f32_to_f16;
use super::ggml_type::QK_K;

pub const BLOCK_Q4_K: usize = 144;
pub const BLOCK_Q6_K: usize = 210;
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `block_q8_K`: f32 scale, 256 i8 values, and the sums of each 16 values.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    pub bsums: [i16; QK_K / 16],
}

impl Default for BlockQ8K {
    fn default() -> Self {
        Self { d: 0.0, qs: [0; QK_K], bsums: [0; QK_K / 16] }
    }
}

/// Round to nearest with the float trick ggml uses (ties to even; valid for |x| < 2^22).
#[inline]
pub(crate) fn nearest_int(fval: f32) -> i32 {
    let val = fval + 12_582_912.0;
    ((val.to_bits() & 0x007f_ffff) as i32) - 0x0040_0000
}

/// Scale and min for one sub-block of `x` with values in 0..=nmax, minimizing the weighted
/// squared error over a small grid of candidate scales (`make_qkx2_quants`, use_mad = false).
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32],
    weights: &[f32],
    l_out: &mut [u8],
    laux: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    let n = x.len();
    let mut min = x[0];
    let mut max = x[0];
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..n {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l_out[..n].fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0f32;
    for i in 0..n {
        let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
        l_out[i] = l as u8;
        let diff = scale * l as f32 + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0f32, 0f32, 0f32);
        for i in 0..n {
            let l = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = l as u8;
            let (w, lf) = (weights[i], l as f32);
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0f32;
            for i in 0..n {
                let diff = this_scale * laux[i] as f32 + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if cur_error < best_error {
                l_out[..n].copy_from_slice(&laux[..n]);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// Symmetric scale for one sub-block with values in -nmax..nmax-1, weights x^2
/// (`make_qx_quants` with rmse_type = 1 and no importance weights). Stores value + nmax in `l`.
fn make_qx_quants(nmax: i32, x: &[f32], l_out: &mut [i8]) -> f32 {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l_out[..x.len()].fill(0);
        return 0.0;
    }
    let quant = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    let mut iscale = -(nmax as f32) / max;
    let (mut sumlx, mut suml2) = (0f32, 0f32);
    for (i, &v) in x.iter().enumerate() {
        let l = quant(iscale, v);
        l_out[i] = (l + nmax) as i8;
        let (w, lf) = (v * v, l as f32);
        sumlx += w * v * lf;
        suml2 += w * lf * lf;
    }
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        sumlx = 0.0;
        suml2 = 0.0;
        for &v in x {
            let (w, lf) = (v * v, quant(iscale, v) as f32);
            sumlx += w * v * lf;
            suml2 += w * lf * lf;
        }
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (i, &v) in x.iter().enumerate() {
                l_out[i] = (nmax + quant(iscale, v)) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// Scale and min of sub-block `j` from the 12 packed bytes (`get_scale_min_k4`).
#[inline]
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

pub(super) fn quantize_row_q4_k(x: &[f32], out: &mut [u8]) {
    let mut l = [0u8; QK_K];
    let mut laux = [0u8; 32];
    let mut weights = [0f32; 32];
    for (xb, y) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(BLOCK_Q4_K)) {
        let mut scales = [0f32; QK_K / 32];
        let mut mins = [0f32; QK_K / 32];
        let (mut max_scale, mut max_min) = (0f32, 0f32);
        for j in 0..QK_K / 32 {
            let xs = &xb[32 * j..32 * j + 32];
            let mut sum_x2 = 0f32;
            for &v in xs {
                sum_x2 += v * v;
            }
            let av_x = (sum_x2 / 32.0).sqrt();
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = av_x + v.abs();
            }
            let (scale, min) =
                make_qkx2_quants(15, xs, &weights, &mut l[32 * j..32 * j + 32], &mut laux, -1.0, 0.1, 20);
            scales[j] = scale;
            mins[j] = min;
            if scale > max_scale {
                max_scale = scale;
            }
            if min > max_min {
                max_min = min;
            }
        }
        let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
        let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
        let (head, qs) = y.split_at_mut(16);
        let sc = &mut head[4..16];
        for j in 0..QK_K / 32 {
            // C stores nearest_int into a uint8_t (wrapping), then clamps to 63.
            let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
            let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
            if j < 4 {
                sc[j] = ls;
                sc[j + 4] = lm;
            } else {
                sc[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4);
                sc[j - 4] |= (ls >> 4) << 6;
                sc[j] |= (lm >> 4) << 6;
            }
        }
        let d_bits = f32_to_f16(max_scale / 63.0);
        let dmin_bits = f32_to_f16(max_min / 63.0);
        head[..2].copy_from_slice(&d_bits.to_le_bytes());
        head[2..4].copy_from_slice(&dmin_bits.to_le_bytes());
        let (d_all, dmin_all) = (read_f16(head, 0), read_f16(head, 2));
        for j in 0..QK_K / 32 {
            let (s, m) = scale_min_k4(j, &head[4..16]);
            let d = d_all * s as f32;
            if d == 0.0 {
                continue;
            }
            let dm = dmin_all * m as f32;
            for ii in 0..32 {
                l[32 * j + ii] = nearest_int((xb[32 * j + ii] + dm) / d).clamp(0, 15) as u8;
            }
        }
        for (chunk, q) in l.chunks_exact(64).zip(qs.chunks_exact_mut(32)) {
            for i in 0..32 {
                q[i] = chunk[i] | (chunk[i + 32] << 4);
            }
        }
    }
}

pub(super) fn dequantize_row_q4_k(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes.chunks_exact(BLOCK_Q4_K).zip(out.chunks_exact_mut(QK_K)) {
        let (d, min) = (read_f16(b, 0), read_f16(b, 2));
        let scales = &b[4..16];
        for (j, (q, ys)) in b[16..].chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
            let (sc1, m1) = scale_min_k4(2 * j, scales);
            let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
            let (d1, m1) = (d * sc1 as f32, min * m1 as f32);
            let (d2, m2) = (d * sc2 as f32, min * m2 as f32);
            for l in 0..32 {
                ys[l] = d1 * (q[l] & 0x0F) as f32 - m1;
                ys[l + 32] = d2 * (q[l] >> 4) as f32 - m2;
            }
        }
    }
}

pub(super) fn quantize_row_q6_k(x: &[f32], out: &mut [u8]) {
    let mut l = [0i8; QK_K];
    for (xb, y) in x.chunks_exact(QK_K).zip(out.chunks_exact_mut(BLOCK_Q6_K)) {
        let mut scales = [0f32; QK_K / 16];
        let (mut max_scale, mut max_abs_scale) = (0f32, 0f32);
        for ib in 0..QK_K / 16 {
            let scale = make_qx_quants(32, &xb[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
            scales[ib] = scale;
            if scale.abs() > max_abs_scale {
                max_abs_scale = scale.abs();
                max_scale = scale;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            y.fill(0);
            continue;
        }
        let (ql, rest) = y.split_at_mut(QK_K / 2);
        let (qh, rest) = rest.split_at_mut(QK_K / 4);
        let (sc, d_out) = rest.split_at_mut(QK_K / 16);
        let iscale = -128.0 / max_scale;
        d_out.copy_from_slice(&f32_to_f16(1.0 / iscale).to_le_bytes());
        for ib in 0..QK_K / 16 {
            sc[ib] = nearest_int(iscale * scales[ib]).min(127) as i8 as u8;
        }
        let d_all = read_f16(d_out, 0);
        for j in 0..QK_K / 16 {
            let d = d_all * sc[j] as i8 as f32;
            if d == 0.0 {
                continue;
            }
            for ii in 0..16 {
                l[16 * j + ii] = (nearest_int(xb[16 * j + ii] / d).clamp(-32, 31) + 32) as i8;
            }
        }
        for (n, (ql, qh)) in ql.chunks_exact_mut(64).zip(qh.chunks_exact_mut(32)).enumerate() {
            let lq = &l[128 * n..128 * n + 128];
            for i in 0..32 {
                let (a, b, c, e) = (lq[i] as u8, lq[i + 32] as u8, lq[i + 64] as u8, lq[i + 96] as u8);
                ql[i] = (a & 0x0F) | ((c & 0x0F) << 4);
                ql[i + 32] = (b & 0x0F) | ((e & 0x0F) << 4);
                qh[i] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
            }
        }
    }
}

/// The unsigned 6-bit value (0..64) of quarter `k` (0..4) from its `ql` byte (low nibble for
/// k < 2, high for k ≥ 2) and its `qh` byte (bits 2k, 2k + 1).
#[inline]
pub(crate) fn q6_k_value(ql: u8, qh: u8, k: usize) -> i32 {
    let low = if k < 2 { ql & 0x0F } else { ql >> 4 };
    (low | (((qh >> (2 * k)) & 3) << 4)) as i32
}

/// Weights l, l + 32, l + 64, l + 96 of a 128-value half of a Q6_K block (`ql`, `qh` of that
/// half), offset by −32 to their signed values.
#[inline]
pub(crate) fn q6_k_values(ql: &[u8], qh: &[u8], l: usize) -> [i32; 4] {
    std::array::from_fn(|k| q6_k_value(ql[l + 32 * (k % 2)], qh[l], k) - 32)
}

pub(super) fn dequantize_row_q6_k(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes.chunks_exact(BLOCK_Q6_K).zip(out.chunks_exact_mut(QK_K)) {
        let d = read_f16(b, 208);
        let (ql, qh, sc) = (&b[..128], &b[128..192], &b[192..208]);
        for n in 0..2 {
            let (ql, qh, sc, ys) = (&ql[64 * n..], &qh[32 * n..], &sc[8 * n..], &mut y[128 * n..]);
            for l in 0..32 {
                let is = l / 16;
                let [q1, q2, q3, q4] = q6_k_values(ql, qh, l);
                ys[l] = d * sc[is] as i8 as f32 * q1 as f32;
                ys[l + 32] = d * sc[is + 2] as i8 as f32 * q2 as f32;
                ys[l + 64] = d * sc[is + 4] as i8 as f32 * q3 as f32;
                ys[l + 96] = d * sc[is + 6] as i8 as f32 * q4 as f32;
            }
        }
    }
}

/// Quantizes activations to Q8_K (`quantize_row_q8_K_ref`): scale -127/max, sums per 16.
pub fn quantize_row_q8_k(x: &[f32], out: &mut [BlockQ8K]) {
    for (xb, y) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in xb {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            *y = BlockQ8K::default();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in y.qs.iter_mut().zip(xb) {
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        for (s, qs) in y.bsums.iter_mut().zip(y.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| q as i16).sum();
        }
        y.d = 1.0 / iscale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.37 + seed as f32).sin() * 2.0 + ((i * 7 % 13) as f32 - 6.0) * 0.1).collect()
    }

    fn rms(a: &[f32]) -> f32 {
        (a.iter().map(|v| v * v).sum::<f32>() / a.len() as f32).sqrt()
    }

    #[test]
    fn q4_k_and_q6_k_round_trip_errors_are_small() {
        let x = wave(4 * QK_K, 3);
        let mut q4 = vec![0u8; 4 * BLOCK_Q4_K];
        let mut q6 = vec![0u8; 4 * BLOCK_Q6_K];
        let mut y = vec![0f32; x.len()];
        quantize_row_q4_k(&x, &mut q4);
        dequantize_row_q4_k(&q4, &mut y);
        let err4: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
        quantize_row_q6_k(&x, &mut q6);
        dequantize_row_q6_k(&q6, &mut y);
        let err6: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
        assert!(rms(&err4) < 0.06 * rms(&x), "q4_K rms error {}", rms(&err4));
        assert!(rms(&err6) < 0.015 * rms(&x), "q6_K rms error {}", rms(&err6));
    }

    #[test]
    fn zero_and_constant_blocks_do_not_blow_up() {
        for x in [vec![0f32; QK_K], vec![1.5f32; QK_K], vec![-2.0f32; QK_K]] {
            let mut q4 = vec![0u8; BLOCK_Q4_K];
            let mut q6 = vec![0u8; BLOCK_Q6_K];
            let mut y = vec![0f32; QK_K];
            quantize_row_q4_k(&x, &mut q4);
            dequantize_row_q4_k(&q4, &mut y);
            assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() <= 0.05 * a.abs() + 1e-6), "q4_K {:?}", &y[..4]);
            quantize_row_q6_k(&x, &mut q6);
            dequantize_row_q6_k(&q6, &mut y);
            assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() <= 0.02 * a.abs() + 1e-6), "q6_K {:?}", &y[..4]);
        }
    }

    #[test]
    fn q8_k_sums_match_values() {
        let x = wave(QK_K, 1);
        let mut b = [BlockQ8K::default()];
        quantize_row_q8_k(&x, &mut b);
        for (g, s) in b[0].bsums.iter().enumerate() {
            assert_eq!(*s as i32, b[0].qs[16 * g..16 * g + 16].iter().map(|&q| q as i32).sum::<i32>());
        }
        let back: Vec<f32> = b[0].qs.iter().map(|&q| q as f32 * b[0].d).collect();
        assert!(x.iter().zip(&back).all(|(a, c)| (a - c).abs() <= b[0].d.abs() * 0.51));
    }
}
