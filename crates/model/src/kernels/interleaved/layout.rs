//! The byte order of each interleaved format: where each of a group's eight rows puts its
//! scales and values in a group block, and the moves between a row's own block and its slots.
//! The kernels of every instruction set (`scalar`, `avx2`, `vnni`) read these layouts.

/// Q4_K×8: eight rows' Q4_K super-blocks side by side. Per group of 8 rows and 256-value
/// super-block, 1152 bytes (= 8 × 144):
///
/// | offset | bytes | content |
/// |--------|-------|---------|
/// | 0      | 16    | d of rows 0..8 (f16) |
/// | 16     | 16    | dmin of rows 0..8 (f16) |
/// | 32     | 96    | packed 6-bit scales: byte k of row r at 32 + 8k + r (k = 0..12) |
/// | 128    | 1024  | nibbles: sub-block pair p, 4-byte chunk c, row r at 128 + 256p + 32c + 4r |
///
/// Within a pair p, byte i of a row's 32 holds value i of sub-block 2p (low nibble) and value i
/// of sub-block 2p + 1 (high nibble), as in Q4_K itself.
pub(super) mod q4_k {
    use super::super::ROWS;
    use crate::quant::k_quants::BLOCK_Q4_K;

    pub(in super::super) const GROUP_BLOCK: usize = ROWS * BLOCK_Q4_K;
    pub(in super::super) const DMIN: usize = 16;
    pub(in super::super) const SCALES: usize = 32;
    pub(in super::super) const QS: usize = 128;

    /// Moves one row's Q4_K block into its slots of a group block.
    pub(in super::super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
        blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
        blk[DMIN + 2 * r..DMIN + 2 * r + 2].copy_from_slice(&src[2..4]);
        for k in 0..12 {
            blk[SCALES + 8 * k + r] = src[4 + k];
        }
        for p in 0..4 {
            for c in 0..8 {
                let at = QS + 256 * p + 32 * c + 4 * r;
                blk[at..at + 4].copy_from_slice(&src[16 + 32 * p + 4 * c..][..4]);
            }
        }
    }

    /// The inverse of `interleave_row`.
    pub(in super::super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
        dst[0..2].copy_from_slice(&blk[2 * r..2 * r + 2]);
        dst[2..4].copy_from_slice(&blk[DMIN + 2 * r..DMIN + 2 * r + 2]);
        for k in 0..12 {
            dst[4 + k] = blk[SCALES + 8 * k + r];
        }
        for p in 0..4 {
            for c in 0..8 {
                let at = QS + 256 * p + 32 * c + 4 * r;
                dst[16 + 32 * p + 4 * c..][..4].copy_from_slice(&blk[at..at + 4]);
            }
        }
    }
}

/// Q5_0×8: eight rows' Q5_0 blocks side by side (the type llama.cpp's Q4_K_M falls back to for
/// rows that are not a multiple of 256, e.g. all of Qwen2.5-0.5B's attention and MLP inputs).
/// Per group of 8 rows and 32-value block, 176 bytes (= 8 × 22):
///
/// | offset | bytes | content |
/// |--------|-------|---------|
/// | 0      | 16    | d of rows 0..8 (f16) |
/// | 16     | 32    | qh (the 32 fifth bits) of rows 0..8, a u32 each |
/// | 48     | 128   | nibbles: 4-byte chunk c, row r at 48 + 32c + 4r (the row's qs[4c..4c + 4]) |
///
/// Byte i of chunk c holds value 4c + i (low nibble) and 16 + 4c + i (high nibble); their
/// fifth bits are bits 4c + i and 16 + 4c + i of qh. Weights are (5-bit value − 16) · d; the
/// −16 is taken off once per block with the activation block's sum. With eight rows' qh in one
/// register, the fifth bits of 32 values cost a handful of instructions instead of a per-row
/// bit expansion.
pub(super) mod q5_0 {
    use super::super::ROWS;
    use crate::quant::blocks::BLOCK_Q5_0;

    pub(in super::super) const GROUP_BLOCK: usize = ROWS * BLOCK_Q5_0;
    pub(in super::super) const QH: usize = 16;
    pub(in super::super) const QS: usize = 48;

    /// Moves one row's Q5_0 block into its slots of a group block.
    pub(in super::super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
        blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
        blk[QH + 4 * r..QH + 4 * r + 4].copy_from_slice(&src[2..6]);
        for c in 0..4 {
            blk[QS + 32 * c + 4 * r..][..4].copy_from_slice(&src[6 + 4 * c..][..4]);
        }
    }

    /// The inverse of `interleave_row`.
    pub(in super::super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
        dst[0..2].copy_from_slice(&blk[2 * r..2 * r + 2]);
        dst[2..6].copy_from_slice(&blk[QH + 4 * r..QH + 4 * r + 4]);
        for c in 0..4 {
            dst[6 + 4 * c..][..4].copy_from_slice(&blk[QS + 32 * c + 4 * r..][..4]);
        }
    }
}

/// Q6_K×8: eight rows' Q6_K super-blocks side by side. Per group of 8 rows and 256-value
/// super-block, 1680 bytes (= 8 × 210):
///
/// | offset | bytes | content |
/// |--------|-------|---------|
/// | 0      | 16    | d of rows 0..8 (f16) |
/// | 16     | 128   | the 16 signed scales: scale j of row r at 16 + 8j + r |
/// | 144    | 1536  | 96 bytes per half n and 4-byte chunk c, at 144 + 768n + 96c: low nibbles of part h = 0, 1 (row r's ql[64n + 32h + 4c ..][..4] at + 32h + 4r), then high bits (row r's qh[32n + 4c ..][..4] at + 64 + 4r) |
///
/// Value l of chunk c (l = 4c + i) in half n gives four weights, as in Q6_K itself: position
/// 128n + l from ql part 0's low nibble and qh bits 0-1, position 128n + l + 32 from part 1's
/// low nibble and bits 2-3, 128n + l + 64 from part 0's high nibble and bits 4-5, and
/// 128n + l + 96 from part 1's high nibble and bits 6-7; all minus 32.
/// Weight position p has scale p / 16, which is also its Q8_K `bsums` index. The kernel reads
/// the chunks in address order: with the three streams (two of ql, one of qh) kept apart, as
/// in Q6_K itself, the hardware prefetcher fell behind and cold mat-vecs ran at a third of the
/// speed.
pub(super) mod q6_k {
    use super::super::ROWS;
    use crate::quant::k_quants::BLOCK_Q6_K;

    pub(in super::super) const GROUP_BLOCK: usize = ROWS * BLOCK_Q6_K;
    pub(in super::super) const SCALES: usize = 16;
    pub(in super::super) const QS: usize = 144;

    /// Offset of half n, chunk c's 96 bytes; part h (0, 1) of ql at +32h, qh at +64.
    pub(in super::super) const fn chunk(n: usize, c: usize) -> usize {
        QS + 768 * n + 96 * c
    }

    /// Moves one row's Q6_K block into its slots of a group block.
    pub(in super::super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
        blk[2 * r..2 * r + 2].copy_from_slice(&src[208..210]);
        for j in 0..16 {
            blk[SCALES + 8 * j + r] = src[192 + j];
        }
        for n in 0..2 {
            for c in 0..8 {
                for h in 0..2 {
                    let at = chunk(n, c) + 32 * h + 4 * r;
                    blk[at..at + 4].copy_from_slice(&src[64 * n + 32 * h + 4 * c..][..4]);
                }
                let at = chunk(n, c) + 64 + 4 * r;
                blk[at..at + 4].copy_from_slice(&src[128 + 32 * n + 4 * c..][..4]);
            }
        }
    }

    /// The inverse of `interleave_row`.
    pub(in super::super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
        dst[208..210].copy_from_slice(&blk[2 * r..2 * r + 2]);
        for j in 0..16 {
            dst[192 + j] = blk[SCALES + 8 * j + r];
        }
        for n in 0..2 {
            for c in 0..8 {
                for h in 0..2 {
                    let at = chunk(n, c) + 32 * h + 4 * r;
                    dst[64 * n + 32 * h + 4 * c..][..4].copy_from_slice(&blk[at..at + 4]);
                }
                let at = chunk(n, c) + 64 + 4 * r;
                dst[128 + 32 * n + 4 * c..][..4].copy_from_slice(&blk[at..at + 4]);
            }
        }
    }
}

/// Q8_0×8: eight rows' Q8_0 blocks side by side (llama.cpp repacks Q8_0 the same way into
/// `block_q8_0x4`). Per group of 8 rows and 32-value block, 272 bytes (= 8 × 34):
///
/// | offset | bytes | content |
/// |--------|-------|---------|
/// | 0      | 16    | d of rows 0..8 (f16) |
/// | 16     | 256   | int8 values: 4-byte chunk c (0..8), row r at 16 + 32c + 4r (the row's qs[4c..4c + 4]) |
///
/// One broadcast of four activation bytes meets the same four positions of all eight rows, and
/// each row's block sum lands in its own 32-bit lane, so the scale is applied to eight rows by
/// one multiply-add.
pub(super) mod q8_0 {
    use super::super::ROWS;
    use crate::quant::blocks::BLOCK_Q8_0;

    pub(in super::super) const GROUP_BLOCK: usize = ROWS * BLOCK_Q8_0;
    pub(in super::super) const QS: usize = 16;

    /// Moves one row's Q8_0 block into its slots of a group block.
    pub(in super::super) fn interleave_row(src: &[u8], r: usize, blk: &mut [u8]) {
        blk[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
        for c in 0..8 {
            blk[QS + 32 * c + 4 * r..][..4].copy_from_slice(&src[2 + 4 * c..][..4]);
        }
    }

    /// The inverse of `interleave_row`.
    pub(in super::super) fn deinterleave_row(blk: &[u8], r: usize, dst: &mut [u8]) {
        dst[0..2].copy_from_slice(&blk[2 * r..2 * r + 2]);
        for c in 0..8 {
            dst[2 + 4 * c..][..4].copy_from_slice(&blk[QS + 32 * c + 4 * r..][..4]);
        }
    }
}
