//! The 32-value blocks: Q8_0 (f16 scale + 32 i8), Q4_0 (f16 scale + 32 nibbles, offset 8) and
//! Q5_0 (f16 scale + 32 fifth bits + 32 nibbles, offset 16). The quantizers follow
//! `quantize_row_*_ref` in llama.cpp's ggml-quants.c operation for operation, so the bytes match.

use super::float::{f16_to_f32, f32_to_f16};

/// Values per block.
pub const QK: usize = 32;
/// Bytes per block (`sizeof(block_q8_0)` etc.).
pub const BLOCK_Q8_0: usize = 34;
pub const BLOCK_Q4_0: usize = 18;
pub const BLOCK_Q5_0: usize = 22;

pub(crate) fn read_f16(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// The value of largest magnitude (the first one on ties), sign kept.
fn signed_absmax(x: &[f32]) -> f32 {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

pub(super) fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK).zip(out.chunks_exact_mut(BLOCK_Q8_0)) {
        let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
        for (q, &v) in yb[2..].iter_mut().zip(xb) {
            *q = (v * id).round() as i8 as u8;
        }
    }
}

pub(super) fn dequantize_row_q8_0(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes.chunks_exact(BLOCK_Q8_0).zip(out.chunks_exact_mut(QK)) {
        let d = read_f16(b, 0);
        for (v, &q) in y.iter_mut().zip(&b[2..]) {
            *v = q as i8 as f32 * d;
        }
    }
}

pub(super) fn quantize_row_q4_0(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK).zip(out.chunks_exact_mut(BLOCK_Q4_0)) {
        let d = signed_absmax(xb) / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
        for j in 0..QK / 2 {
            // C's `(int8_t)(x + 8.5f)` truncates toward zero; `as` does too (and saturates).
            let q0 = ((xb[j] * id + 8.5) as i8).min(15) as u8;
            let q1 = ((xb[j + QK / 2] * id + 8.5) as i8).min(15) as u8;
            yb[2 + j] = q0 | (q1 << 4);
        }
    }
}

pub(super) fn dequantize_row_q4_0(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes.chunks_exact(BLOCK_Q4_0).zip(out.chunks_exact_mut(QK)) {
        let d = read_f16(b, 0);
        for j in 0..QK / 2 {
            y[j] = ((b[2 + j] & 0x0F) as i32 - 8) as f32 * d;
            y[j + QK / 2] = ((b[2 + j] >> 4) as i32 - 8) as f32 * d;
        }
    }
}

pub(super) fn quantize_row_q5_0(x: &[f32], out: &mut [u8]) {
    for (xb, yb) in x.chunks_exact(QK).zip(out.chunks_exact_mut(BLOCK_Q5_0)) {
        let d = signed_absmax(xb) / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        yb[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
        let mut qh = 0u32;
        for j in 0..QK / 2 {
            let q0 = ((xb[j] * id + 16.5) as i8).min(31) as u8;
            let q1 = ((xb[j + QK / 2] * id + 16.5) as i8).min(31) as u8;
            yb[6 + j] = (q0 & 0x0F) | ((q1 & 0x0F) << 4);
            qh |= (((q0 & 0x10) >> 4) as u32) << j;
            qh |= (((q1 & 0x10) >> 4) as u32) << (j + QK / 2);
        }
        yb[2..6].copy_from_slice(&qh.to_le_bytes());
    }
}

pub(super) fn dequantize_row_q5_0(bytes: &[u8], out: &mut [f32]) {
    for (b, y) in bytes.chunks_exact(BLOCK_Q5_0).zip(out.chunks_exact_mut(QK)) {
        let d = read_f16(b, 0);
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        for j in 0..QK / 2 {
            let h0 = ((qh >> j) << 4) & 0x10;
            let h1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((b[6 + j] & 0x0F) as u32 | h0) as i32 - 16) as f32 * d;
            y[j + QK / 2] = (((b[6 + j] >> 4) as u32 | h1) as i32 - 16) as f32 * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f32> {
        (0..n).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect()
    }

    #[test]
    fn round_trips_stay_within_a_step() {
        let x = ramp(256);
        for (quant, dequant, bytes, steps) in [
            (
                quantize_row_q8_0 as fn(&[f32], &mut [u8]),
                dequantize_row_q8_0 as fn(&[u8], &mut [f32]),
                BLOCK_Q8_0,
                127.0,
            ),
            (quantize_row_q4_0, dequantize_row_q4_0, BLOCK_Q4_0, 8.0),
            (quantize_row_q5_0, dequantize_row_q5_0, BLOCK_Q5_0, 16.0),
        ] {
            let mut q = vec![0u8; x.len() / QK * bytes];
            let mut y = vec![0f32; x.len()];
            quant(&x, &mut q);
            dequant(&q, &mut y);
            for (xb, yb) in x.chunks(QK).zip(y.chunks(QK)) {
                let amax = xb.iter().fold(0f32, |a, v| a.max(v.abs()));
                let step = amax / steps;
                for (a, b) in xb.iter().zip(yb) {
                    // Half a step, except the clipped top of the range opposite the absmax sign.
                    assert!((a - b).abs() <= step + amax * 1e-3, "{a} vs {b}, step {step}");
                }
            }
        }
    }

    #[test]
    fn zero_block_gives_zero_scale() {
        let mut q = [0xAAu8; BLOCK_Q4_0];
        quantize_row_q4_0(&[0.0; 32], &mut q);
        assert_eq!(read_f16(&q, 0), 0.0); // -0.0, as 0 / -8 gives in C

        assert!(q[2..].iter().all(|&b| b == 0x88));
    }
}
