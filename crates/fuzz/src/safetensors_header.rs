//! Mutations of a safetensors file's header: the 8-byte header length (past the file, inside
//! the data, zero), and the JSON header's tensor entries (dtype, shape, data_offsets set to
//! boundary values, overlapping or out of range; huge shapes; dtype/size disagreement), plus
//! deep and non-UTF-8 headers. The data section is kept, so every other tensor still loads.

use crate::mutate_bytes::{BOUNDARY_U64, boundary_value, read_le, write_le};
use crate::mutate_json::{deep_nesting, mutate_node};
use crate::rng::Rng;
use serde_json::{Value, json};

const DTYPES: [&str; 12] = ["F32", "F16", "BF16", "F64", "F8_E4M3", "F8_E5M2", "I8", "U8", "I64", "BOOL", "F4", "Q9"];

fn split(data: &[u8]) -> Option<(usize, &[u8], &[u8])> {
    let n = usize::try_from(read_le(data, 0, 8)).ok()?;
    let end = n.checked_add(8).filter(|&e| e <= data.len())?;
    Some((n, &data[8..end], &data[end..]))
}

/// A header `header` (JSON text) spliced in front of `body`, padded to 8 bytes as the writer does.
fn join(mut header: Vec<u8>, body: &[u8]) -> Vec<u8> {
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

fn mutate_entry(rng: &mut Rng, entry: &mut Value, previous_end: u64) {
    let Some(obj) = entry.as_object_mut() else { return };
    match rng.below(7) {
        0 => {
            obj.insert("dtype".into(), json!(*rng.pick(&DTYPES)));
        }
        1 | 2 => {
            if let Some(Value::Array(shape)) = obj.get_mut("shape")
                && !shape.is_empty()
            {
                let i = rng.below(shape.len());
                let old = shape[i].as_u64().unwrap_or(0);
                shape[i] = json!(boundary_value(rng, old));
            }
        }
        3 => {
            let rank = *rng.pick(&[0usize, 1, 3, 8, 64]);
            let dims: Vec<u64> = (0..rank).map(|_| *rng.pick(&[0u64, 1, 2, 1 << 20, 1 << 31, 1 << 32])).collect();
            obj.insert("shape".into(), json!(dims));
        }
        4 | 5 => {
            if let Some(Value::Array(off)) = obj.get_mut("data_offsets")
                && off.len() == 2
            {
                let i = rng.below(2);
                let old = off[i].as_u64().unwrap_or(0);
                off[i] = match rng.below(4) {
                    0 => json!(previous_end.saturating_sub(1 + rng.below(64) as u64)),
                    1 => json!(off[1 - i].clone()),
                    _ => json!(boundary_value(rng, old)),
                };
            }
        }
        _ => mutate_node(rng, entry),
    }
}

/// One mutation of the safetensors file `data`; false when its header does not parse.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let Some((n, header, body)) = split(data) else { return false };
    let body = body.to_vec();
    let out = match rng.below(10) {
        0 | 1 => {
            let mut d = data.clone();
            let len = data.len() as u64;
            let value = match rng.below(4) {
                0 => len - 8 + rng.below(64) as u64,
                1 => (n as u64).saturating_sub(rng.below(64) as u64),
                _ => *rng.pick(&BOUNDARY_U64),
            };
            write_le(&mut d, 0, 8, value);
            d
        }
        2 => {
            let depth = *rng.pick(&[200usize, 10_000, 1_000_000]);
            join(format!("{{\"x\":{}}}", deep_nesting(depth)).into_bytes(), &body)
        }
        3 => {
            let mut h = header.to_vec();
            let at = rng.below(h.len().max(1));
            h.insert(at.min(h.len()), *rng.pick(&[0xff, 0xc3, 0xed, 0x80]));
            join(h, &body)
        }
        _ => {
            let Ok(mut json) = serde_json::from_slice::<Value>(header) else { return false };
            if let Some(obj) = json.as_object_mut() {
                let names: Vec<String> = obj.keys().filter(|k| *k != "__metadata__").cloned().collect();
                if names.is_empty() {
                    return false;
                }
                for _ in 0..1 + rng.below(3).min(rng.below(3)) {
                    let name = rng.pick(&names).clone();
                    let prev_end =
                        obj.get(&name).and_then(|e| e.pointer("/data_offsets/0")).and_then(Value::as_u64).unwrap_or(0);
                    if rng.chance(10) {
                        // A second name for the same bytes, or a name that is not a tensor.
                        let copy = obj.get(&name).cloned().unwrap_or(Value::Null);
                        obj.insert(format!("{name}.copy"), copy);
                    } else if let Some(entry) = obj.get_mut(&name) {
                        mutate_entry(rng, entry, prev_end);
                    }
                }
            }
            join(serde_json::to_vec(&json).unwrap_or_default(), &body)
        }
    };
    *data = out;
    true
}
