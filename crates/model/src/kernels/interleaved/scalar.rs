//! The reference group kernels, one per format, in plain integer and float arithmetic: what
//! every SIMD table (`avx2`, `vnni`) is tested against bit for bit, and what runs where the CPU
//! has no SIMD kernels (or `REASONER_KERNELS=scalar`). Each follows the order of its SIMD form:
//! exact integer sums per row and block, then one fused multiply-add per block.

use super::driver::{GroupKernels, Q8Act, Q8KAct};
use super::layout::{q4_k, q5_0, q6_k, q8_0};
use super::{KernelTable, ROWS};
use crate::quant::float::f16_to_f32;
use crate::quant::k_quants::{q6_k_value, scale_min_k4};

pub(super) const TABLE: KernelTable = KernelTable {
    name: "scalar",
    q4_k: GroupKernels { one: q4_k_dot, four: q4_k_dot4 },
    q6_k: GroupKernels { one: q6_k_dot, four: q6_k_dot4 },
    q5_0: GroupKernels { one: q5_0_dot, four: q5_0_dot4 },
    q8_0: GroupKernels { one: q8_0_dot, four: q8_0_dot4 },
};

/// Four calls of a one-row kernel (the reference kernels' four-row entry).
macro_rules! four_of {
    ($name:ident, $one:ident, $act:ty) => {
        unsafe fn $name(group: &[u8], a: [&$act; 4], out: &mut [[f32; ROWS]; 4]) {
            for t in 0..4 {
                // SAFETY: `$name` has the one-row kernel's contract, which the caller met for all four rows.
                unsafe { $one(group, a[t], &mut out[t]) };
            }
        }
    };
}

four_of!(q4_k_dot4, q4_k_dot, Q8KAct);
four_of!(q6_k_dot4, q6_k_dot, Q8KAct);
four_of!(q5_0_dot4, q5_0_dot, Q8Act);
four_of!(q8_0_dot4, q8_0_dot, Q8Act);

/// Q4_K. Per row and super-block: exact integer sums, then acc += sumi·(d·d_a) and
/// acc_min += summ·(dmin·d_a) as fused multiply-adds, and acc − acc_min at the end, the order
/// the SIMD kernels follow lane by lane.
unsafe fn q4_k_dot(group: &[u8], a: &Q8KAct, out: &mut [f32; ROWS]) {
    use q4_k::{DMIN, GROUP_BLOCK, QS, SCALES};
    let (mut acc, mut acc_min) = ([0f32; ROWS], [0f32; ROWS]);
    for ((blk, ab), ps) in group.chunks_exact(GROUP_BLOCK).zip(&a.blocks).zip(&a.pair_sums) {
        for r in 0..ROWS {
            let packed: [u8; 12] = std::array::from_fn(|k| blk[SCALES + 8 * k + r]);
            let (mut sumi, mut summ) = (0i32, 0i32);
            for j in 0..8 {
                let (sc, m) = scale_min_k4(j, &packed);
                let (p, high) = (j / 2, j % 2 == 1);
                let mut s = 0i32;
                for i in 0..32 {
                    let byte = blk[QS + 256 * p + 32 * (i / 4) + 4 * r + i % 4];
                    let q = if high { byte >> 4 } else { byte & 0x0F };
                    s += q as i32 * ab.qs[32 * j + i] as i32;
                }
                sumi += sc as i32 * s;
                let ysum = (ps[p] >> (16 * (j % 2))) as i16 as i32;
                summ += m as i32 * ysum;
            }
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            let dmin = f16_to_f32(u16::from_le_bytes([blk[DMIN + 2 * r], blk[DMIN + 2 * r + 1]]));
            acc[r] = (sumi as f32).mul_add(d * ab.d, acc[r]);
            acc_min[r] = (summ as f32).mul_add(dmin * ab.d, acc_min[r]);
        }
    }
    for r in 0..ROWS {
        out[r] = acc[r] - acc_min[r];
    }
}

/// The unsigned 6-bit value (0..64) of Q6_K weight `4c + i + 32k` in half n of row r.
fn q6(blk: &[u8], r: usize, n: usize, c: usize, i: usize, k: usize) -> i32 {
    let at = q6_k::chunk(n, c);
    q6_k_value(blk[at + 32 * (k % 2) + 4 * r + i], blk[at + 64 + 4 * r + i], k)
}

/// Q6_K. Per row and super-block the exact integer sum Σ_j scale_j · Σ (q − 32)·y (computed as
/// Σ scale·q·y − 32 · Σ scale·bsum), then acc += sumi·(d·d_a) as one fused multiply-add: the
/// order the SIMD kernels follow.
unsafe fn q6_k_dot(group: &[u8], a: &Q8KAct, out: &mut [f32; ROWS]) {
    use q6_k::{GROUP_BLOCK, SCALES};
    let mut acc = [0f32; ROWS];
    for (blk, ab) in group.chunks_exact(GROUP_BLOCK).zip(&a.blocks) {
        for r in 0..ROWS {
            let scale = |j: usize| blk[SCALES + 8 * j + r] as i8 as i32;
            let mut sumi = 0i32;
            for n in 0..2 {
                for c in 0..8 {
                    for k in 0..4 {
                        for i in 0..4 {
                            let p = 128 * n + 32 * k + 4 * c + i;
                            sumi += scale(p / 16) * q6(blk, r, n, c, i, k) * ab.qs[p] as i32;
                        }
                    }
                }
            }
            let offset: i32 = (0..16).map(|j| scale(j) * ab.bsums[j] as i32).sum();
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            acc[r] = ((sumi - 32 * offset) as f32).mul_add(d * ab.d, acc[r]);
        }
    }
    *out = acc;
}

/// Q5_0. Per row and block the exact Σ (q − 16)·y, then acc += sumi·(d·d_a) as one fused
/// multiply-add, the order the SIMD kernels follow.
unsafe fn q5_0_dot(group: &[u8], a: &Q8Act, out: &mut [f32; ROWS]) {
    use q5_0::{GROUP_BLOCK, QH, QS};
    let mut acc = [0f32; ROWS];
    for (b, blk) in group.chunks_exact(GROUP_BLOCK).enumerate() {
        let y = &a.row.qs[32 * b..32 * b + 32];
        for r in 0..ROWS {
            let qh = u32::from_le_bytes(blk[QH + 4 * r..QH + 4 * r + 4].try_into().expect("4 bytes"));
            let mut sumi = 0i32;
            for c in 0..4 {
                for i in 0..4 {
                    let byte = blk[QS + 32 * c + 4 * r + i];
                    let (j_lo, j_hi) = (4 * c + i, 16 + 4 * c + i);
                    let lo = (byte & 0x0F) as i32 | (((qh >> j_lo) & 1) << 4) as i32;
                    let hi = (byte >> 4) as i32 | (((qh >> j_hi) & 1) << 4) as i32;
                    sumi += lo * y[j_lo] as i32 + hi * y[j_hi] as i32;
                }
            }
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            acc[r] = ((sumi - 16 * a.sums[b]) as f32).mul_add(d * a.row.d[b], acc[r]);
        }
    }
    *out = acc;
}

/// Q8_0. Per row and block the exact Σ q·y, then acc += sumi·(d·d_a) as one fused multiply-add,
/// the order the SIMD kernels follow. (The block sums serve formats with an offset; Q8_0 has
/// none.)
unsafe fn q8_0_dot(group: &[u8], a: &Q8Act, out: &mut [f32; ROWS]) {
    use q8_0::{GROUP_BLOCK, QS};
    let mut acc = [0f32; ROWS];
    for (b, blk) in group.chunks_exact(GROUP_BLOCK).enumerate() {
        let y = &a.row.qs[32 * b..32 * b + 32];
        for r in 0..ROWS {
            let mut sumi = 0i32;
            for c in 0..8 {
                for i in 0..4 {
                    sumi += blk[QS + 32 * c + 4 * r + i] as i8 as i32 * y[4 * c + i] as i32;
                }
            }
            let d = f16_to_f32(u16::from_le_bytes([blk[2 * r], blk[2 * r + 1]]));
            acc[r] = (sumi as f32).mul_add(d * a.row.d[b], acc[r]);
        }
    }
    *out = acc;
}
