//! The plain reference kernels, the ones the SIMD tables must equal bit for bit. Integer sums
//! per block are exact; the float part accumulates block b into lane b % 8 (32-blocks) or runs
//! sequentially per super-block (K-quants), which is the order the SIMD code uses too.

use super::{Kernels, Q8Row, sum_lanes};
use crate::quant::blocks::{BLOCK_Q4_0, BLOCK_Q5_0, BLOCK_Q8_0, read_f16};
use crate::quant::float::{bf16_to_f32, f16_to_f32};
use crate::quant::k_quants::{BLOCK_Q4_K, BLOCK_Q6_K, BlockQ8K, q6_k_values};

pub(super) static KERNELS: Kernels = Kernels {
    name: "scalar",
    q8_0: dot_q8_0,
    q4_0: dot_q4_0,
    q5_0: dot_q5_0,
    q4_k: dot_q4_k,
    q6_k: dot_q6_k,
    f32: dot_f32,
    f16: dot_f16,
    bf16: dot_bf16,
};

/// Shared float tail of the 32-block kernels: `sumi(b)` is block b's exact integer dot.
#[inline]
pub(super) fn accumulate_blocks(
    w: &[u8],
    block_bytes: usize,
    a: &Q8Row,
    first_block: usize,
    lanes: &mut [f32; 8],
    sumi: impl Fn(&[u8], &[i8]) -> i32,
) {
    let nb = a.n_blocks();
    assert_eq!(w.len(), nb * block_bytes, "weight row and activation lengths differ");
    for b in first_block..nb {
        let wb = &w[b * block_bytes..(b + 1) * block_bytes];
        let d = read_f16(wb, 0) * a.d[b];
        lanes[b % 8] += d * sumi(wb, &a.qs[32 * b..32 * b + 32]) as f32;
    }
}

pub(super) fn sumi_q8_0(wb: &[u8], q: &[i8]) -> i32 {
    wb[2..34].iter().zip(q).map(|(&x, &y)| x as i8 as i32 * y as i32).sum()
}

pub(super) fn sumi_q4_0(wb: &[u8], q: &[i8]) -> i32 {
    let mut s = 0;
    for j in 0..16 {
        s += ((wb[2 + j] & 0x0F) as i32 - 8) * q[j] as i32;
        s += ((wb[2 + j] >> 4) as i32 - 8) * q[j + 16] as i32;
    }
    s
}

pub(super) fn sumi_q5_0(wb: &[u8], q: &[i8]) -> i32 {
    let qh = u32::from_le_bytes([wb[2], wb[3], wb[4], wb[5]]);
    let mut s = 0;
    for j in 0..16 {
        let h0 = (((qh >> j) << 4) & 0x10) as i32;
        let h1 = ((qh >> (j + 12)) & 0x10) as i32;
        s += (((wb[6 + j] & 0x0F) as i32 | h0) - 16) * q[j] as i32;
        s += (((wb[6 + j] >> 4) as i32 | h1) - 16) * q[j + 16] as i32;
    }
    s
}

fn dot_q8_0(w: &[u8], a: &Q8Row) -> f32 {
    let mut lanes = [0f32; 8];
    accumulate_blocks(w, BLOCK_Q8_0, a, 0, &mut lanes, sumi_q8_0);
    sum_lanes(&lanes)
}

fn dot_q4_0(w: &[u8], a: &Q8Row) -> f32 {
    let mut lanes = [0f32; 8];
    accumulate_blocks(w, BLOCK_Q4_0, a, 0, &mut lanes, sumi_q4_0);
    sum_lanes(&lanes)
}

fn dot_q5_0(w: &[u8], a: &Q8Row) -> f32 {
    let mut lanes = [0f32; 8];
    accumulate_blocks(w, BLOCK_Q5_0, a, 0, &mut lanes, sumi_q5_0);
    sum_lanes(&lanes)
}

/// The 12 packed scale bytes of a Q4_K super-block rearranged into four words: the bytes of
/// words 0-1 are the 8 six-bit scales, of words 2-3 the 8 mins (the branch-free shuffle of
/// ggml's x86 kernel; byte j equals `scale_min_k4(j)`).
#[inline]
pub(super) fn q4_k_scale_words(packed: &[u8]) -> [u32; 4] {
    const KMASK1: u32 = 0x3f3f_3f3f;
    const KMASK2: u32 = 0x0f0f_0f0f;
    const KMASK3: u32 = 0x0303_0303;
    let u = |i: usize| u32::from_le_bytes([packed[4 * i], packed[4 * i + 1], packed[4 * i + 2], packed[4 * i + 3]]);
    let (u0, u1, u2) = (u(0), u(1), u(2));
    [
        u0 & KMASK1,
        (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4),
        u1 & KMASK1,
        ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4),
    ]
}

/// The 8 scales and 8 mins of a Q4_K super-block.
#[inline]
pub(super) fn q4_k_scales_mins(packed: &[u8]) -> ([u8; 8], [u8; 8]) {
    let w = q4_k_scale_words(packed);
    let join = |a: u32, b: u32| {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&a.to_le_bytes());
        out[4..].copy_from_slice(&b.to_le_bytes());
        out
    };
    (join(w[0], w[1]), join(w[2], w[3]))
}

/// Σ_j min_j * (sum of the 32 activation values of sub-block j), from the Q8_K sums.
#[inline]
pub(super) fn q4_k_min_sum(m: &[u8; 8], a: &BlockQ8K) -> i32 {
    (0..8).map(|j| m[j] as i32 * (a.bsums[2 * j] as i32 + a.bsums[2 * j + 1] as i32)).sum()
}

/// The float step of every Q4_K kernel: super-block b adds into lane b % 8. `w_d` and `w_dmin`
/// are the block's f16 scales as f32; SIMD tables do the same ops eight lanes at a time.
#[inline]
pub(super) fn q4_k_lane(lane: f32, a_d: f32, w_d: f32, w_dmin: f32, sumi: i32, summ: i32) -> f32 {
    lane + ((a_d * w_d) * sumi as f32 - (a_d * w_dmin) * summ as f32)
}

/// The float step of every Q6_K kernel, as `q4_k_lane` without the mins.
#[inline]
pub(super) fn q6_k_lane(lane: f32, a_d: f32, w_d: f32, sumi: i32) -> f32 {
    lane + (a_d * w_d) * sumi as f32
}

fn dot_q4_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len() * BLOCK_Q4_K, "weight row and activation lengths differ");
    let mut lanes = [0f32; 8];
    for (b, (wb, ab)) in w.chunks_exact(BLOCK_Q4_K).zip(a).enumerate() {
        let (sc, m) = q4_k_scales_mins(&wb[4..16]);
        let mut sumi = 0i32;
        for (j, q) in wb[16..].chunks_exact(32).enumerate() {
            let (lo, hi) = (&ab.qs[64 * j..64 * j + 32], &ab.qs[64 * j + 32..64 * j + 64]);
            let s_lo: i32 = q.iter().zip(lo).map(|(&x, &y)| (x & 0x0F) as i32 * y as i32).sum();
            let s_hi: i32 = q.iter().zip(hi).map(|(&x, &y)| (x >> 4) as i32 * y as i32).sum();
            sumi += sc[2 * j] as i32 * s_lo + sc[2 * j + 1] as i32 * s_hi;
        }
        let summ = q4_k_min_sum(&m, ab);
        lanes[b % 8] = q4_k_lane(lanes[b % 8], ab.d, read_f16(wb, 0), read_f16(wb, 2), sumi, summ);
    }
    sum_lanes(&lanes)
}

fn dot_q6_k(w: &[u8], a: &[BlockQ8K]) -> f32 {
    assert_eq!(w.len(), a.len() * BLOCK_Q6_K, "weight row and activation lengths differ");
    let mut lanes = [0f32; 8];
    for (b, (wb, ab)) in w.chunks_exact(BLOCK_Q6_K).zip(a).enumerate() {
        let (ql, qh, sc) = (&wb[..128], &wb[128..192], &wb[192..208]);
        let mut sumi = 0i32;
        for n in 0..2 {
            let (ql, qh, y) = (&ql[64 * n..], &qh[32 * n..], &ab.qs[128 * n..]);
            let mut group = [0i32; 8];
            for l in 0..32 {
                let is = l / 16;
                let [q1, q2, q3, q4] = q6_k_values(ql, qh, l);
                group[is] += q1 * y[l] as i32;
                group[is + 2] += q2 * y[l + 32] as i32;
                group[is + 4] += q3 * y[l + 64] as i32;
                group[is + 6] += q4 * y[l + 96] as i32;
            }
            for (g, s) in group.iter().enumerate() {
                sumi += sc[8 * n + g] as i8 as i32 * s;
            }
        }
        lanes[b % 8] = q6_k_lane(lanes[b % 8], ab.d, read_f16(wb, 208), sumi);
    }
    sum_lanes(&lanes)
}

/// Float rows: element i goes to lane i % 32, like a loop over four 8-wide accumulators.
#[inline]
pub(super) fn dot_float_from(
    w: &[u8],
    x: &[f32],
    first: usize,
    lanes: &mut [f32; 32],
    size: usize,
    load: impl Fn(&[u8]) -> f32,
) -> f32 {
    assert_eq!(w.len(), x.len() * size, "weight row and activation lengths differ");
    for i in first..x.len() {
        lanes[i % 32] += load(&w[i * size..(i + 1) * size]) * x[i];
    }
    // (acc0 + acc1) + (acc2 + acc3), lane-wise, then the 8-lane sum.
    let mut eight = [0f32; 8];
    for (k, e) in eight.iter_mut().enumerate() {
        *e = (lanes[k] + lanes[8 + k]) + (lanes[16 + k] + lanes[24 + k]);
    }
    sum_lanes(&eight)
}

pub(super) fn load_f32(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

pub(super) fn load_f16(b: &[u8]) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
}

pub(super) fn load_bf16(b: &[u8]) -> f32 {
    bf16_to_f32(u16::from_le_bytes([b[0], b[1]]))
}

fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    dot_float_from(w, x, 0, &mut [0f32; 32], 4, load_f32)
}

fn dot_f16(w: &[u8], x: &[f32]) -> f32 {
    dot_float_from(w, x, 0, &mut [0f32; 32], 2, load_f16)
}

fn dot_bf16(w: &[u8], x: &[f32]) -> f32 {
    dot_float_from(w, x, 0, &mut [0f32; 32], 2, load_bf16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::k_quants::scale_min_k4;

    #[test]
    fn scale_words_unpack_like_get_scale_min_k4() {
        let mut state = 1u32;
        for _ in 0..1000 {
            let packed: Vec<u8> = (0..12)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8
                })
                .collect();
            let (sc, m) = q4_k_scales_mins(&packed);
            for j in 0..8 {
                assert_eq!((sc[j], m[j]), scale_min_k4(j, &packed));
            }
        }
    }
}
