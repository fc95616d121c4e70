//! Plain float rows: F32 as little-endian bytes, F16 (IEEE half, round to nearest even) and
//! BF16 rounded as ggml's `ggml_compute_fp32_to_bf16` does (NaN kept quiet, nearest even).

use half::f16;

pub fn f16_to_f32(bits: u16) -> f32 {
    f16::from_bits(bits).to_f32()
}

pub fn f32_to_f16(x: f32) -> u16 {
    f16::from_f32(x).to_bits()
}

pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits((bits as u32) << 16)
}

/// ggml's rounding: quiet NaNs, otherwise round to nearest, ties to even.
pub fn f32_to_bf16(x: f32) -> u16 {
    let u = x.to_bits();
    if (u & 0x7fff_ffff) > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u as u64 + (0x7fff + ((u >> 16) & 1)) as u64) >> 16) as u16
}

pub(super) fn f32_row_to_bytes(x: &[f32], out: &mut [u8]) {
    for (v, dst) in x.iter().zip(out.chunks_exact_mut(4)) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

pub(super) fn f32_row_from_bytes(bytes: &[u8], out: &mut [f32]) {
    for (src, v) in bytes.chunks_exact(4).zip(out.iter_mut()) {
        *v = f32::from_le_bytes([src[0], src[1], src[2], src[3]]);
    }
}

pub(super) fn quantize_row_f16(x: &[f32], out: &mut [u8]) {
    for (v, dst) in x.iter().zip(out.chunks_exact_mut(2)) {
        dst.copy_from_slice(&f32_to_f16(*v).to_le_bytes());
    }
}

pub(super) fn dequantize_row_f16(bytes: &[u8], out: &mut [f32]) {
    for (src, v) in bytes.chunks_exact(2).zip(out.iter_mut()) {
        *v = f16_to_f32(u16::from_le_bytes([src[0], src[1]]));
    }
}

pub(super) fn quantize_row_bf16(x: &[f32], out: &mut [u8]) {
    for (v, dst) in x.iter().zip(out.chunks_exact_mut(2)) {
        dst.copy_from_slice(&f32_to_bf16(*v).to_le_bytes());
    }
}

pub(super) fn dequantize_row_bf16(bytes: &[u8], out: &mut [f32]) {
    for (src, v) in bytes.chunks_exact(2).zip(out.iter_mut()) {
        *v = bf16_to_f32(u16::from_le_bytes([src[0], src[1]]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even_and_keeps_nan() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        // 1 + 2^-8 is exactly half way between two bf16 values: ties go to the even one.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
        assert_eq!(f16_to_f32(f32_to_f16(0.5)), 0.5);
    }
}
