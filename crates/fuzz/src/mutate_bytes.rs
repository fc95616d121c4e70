//! Format-blind mutations of a byte string, as AFL's havoc stage makes them: bit flips, bytes
//! set to boundary values, integers of 1–8 bytes overwritten with boundary values, runs
//! inserted, deleted or duplicated, truncation, and splices with another seed of the format.

use crate::rng::Rng;

/// Integer values at which size arithmetic breaks: zero, one, sign and width boundaries.
pub const BOUNDARY_U64: [u64; 16] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    (1 << 32) + 1,
    1 << 40,
    1 << 62,
    1 << 63,
    u64::MAX,
];

/// A boundary value, sometimes the original nudged by ±1 or doubled instead.
pub fn boundary_value(rng: &mut Rng, original: u64) -> u64 {
    match rng.below(8) {
        0 => original.wrapping_add(1),
        1 => original.wrapping_sub(1),
        2 => original.wrapping_mul(2),
        _ => *rng.pick(&BOUNDARY_U64),
    }
}

/// Writes the low `width` bytes of `value` little-endian at `at` (clipped to the buffer).
pub fn write_le(bytes: &mut [u8], at: usize, width: usize, value: u64) {
    for (k, b) in value.to_le_bytes().iter().take(width).enumerate() {
        if let Some(slot) = bytes.get_mut(at + k) {
            *slot = *b;
        }
    }
}

pub fn read_le(bytes: &[u8], at: usize, width: usize) -> u64 {
    let mut v = [0u8; 8];
    for (k, slot) in v.iter_mut().take(width).enumerate() {
        *slot = bytes.get(at + k).copied().unwrap_or(0);
    }
    u64::from_le_bytes(v)
}

/// One havoc mutation of `data`; `other` is another seed of the same format for splices.
pub fn havoc_once(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.below(10) {
        0 if len > 0 => {
            let at = rng.below(len);
            data[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            data[at] = *rng.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'"', b'{', b'[', b'\\', b'\n', 0xc3, 0xed]);
        }
        2 | 3 if len > 0 => {
            let width = *rng.pick(&[1usize, 2, 4, 8]);
            let at = rng.below(len);
            let old = read_le(data, at, width);
            let value = boundary_value(rng, old);
            write_le(data, at, width, value);
        }
        4 => {
            let at = rng.below(len + 1);
            let cap = if rng.chance(8) { 4096 } else { 16 };
            let n = 1 + rng.below(cap);
            let fill: Vec<u8> = if rng.chance(2) {
                vec![rng.next_u64() as u8; n]
            } else {
                (0..n).map(|_| rng.next_u64() as u8).collect()
            };
            data.splice(at..at, fill);
        }
        5 if len > 0 => {
            let at = rng.below(len);
            let cap = if rng.chance(8) { 4096 } else { 16 };
            let n = 1 + rng.below((len - at).min(cap));
            data.drain(at..at + n);
        }
        6 if len > 0 => {
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(256));
            let chunk = data[from..from + n].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, chunk);
        }
        7 if len > 0 => {
            data.truncate(rng.below(len));
        }
        8 if !other.is_empty() && len > 0 => {
            // Splice: our head, the other seed's tail.
            let cut = rng.below(len);
            let from = rng.below(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        _ if len > 0 => {
            let from = rng.below(len);
            let to = rng.below(len);
            let n = 1 + rng.below((len - from.max(to)).min(64));
            data.copy_within(from..from + n, to);
        }
        _ => data.push(rng.next_u64() as u8),
    }
}

/// 1 to 4 havoc mutations, fewer more often (most bugs need one change).
pub fn havoc(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    let rounds = 1 + rng.below(4).min(rng.below(4));
    for _ in 0..rounds {
        havoc_once(rng, data, other);
    }
}
