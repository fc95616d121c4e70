//! Structure-aware mutations of a JSON document (config.json, tokenizer.json, a safetensors
//! header, a JSONL line): walk from the root to a random node, biased toward the upper levels
//! where the sizes and kinds live, and replace it with a hostile value, drop it, or duplicate it.

use crate::mutate_bytes::BOUNDARY_U64;
use crate::rng::Rng;
use serde_json::{Number, Value, json};

/// A hostile replacement for `old`.
fn hostile(rng: &mut Rng, old: &Value) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => json!(-1),
        3 => json!(i64::MIN),
        4 => {
            Number::from_f64(*rng.pick(&[1e300, -1e300, 0.5, -0.0, 1e-300, 3.4e38])).map_or(Value::Null, Value::Number)
        }
        5 => json!(""),
        6 => {
            let cap = if rng.chance(4) { 1 << 16 } else { 8 };
            json!("x".repeat(1 + rng.below(cap)))
        }
        7 => json!([]),
        8 => json!({}),
        9 => json!([old.clone(), old.clone()]),
        10 => {
            // A number near the old one (off by one, doubled), or the old value's kind broken.
            match old.as_u64() {
                Some(n) => json!(*rng.pick(&[n.wrapping_add(1), n.wrapping_sub(1), n.wrapping_mul(2), n / 2])),
                None => json!(old.to_string()),
            }
        }
        _ => json!(*rng.pick(&BOUNDARY_U64)),
    }
}

/// Mutates one node of `root`, chosen by a random walk that stops at each level with
/// probability 1/3 (the root itself is replaced only rarely).
pub fn mutate_node(rng: &mut Rng, root: &mut Value) {
    let mut node = root;
    let mut depth = 0;
    loop {
        let stop = depth > 0 && rng.chance(3);
        let n_children = match &*node {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            _ => 0,
        };
        if stop || n_children == 0 {
            break;
        }
        let i = rng.below(n_children);
        // Structural edits of this container before descending.
        if rng.chance(12) {
            match node {
                Value::Array(a) => {
                    if rng.chance(2) {
                        a.remove(i);
                    } else {
                        let copy = a[i].clone();
                        a.insert(rng.below(a.len() + 1), copy);
                    }
                }
                Value::Object(o) => {
                    if let Some(key) = o.keys().nth(i).cloned() {
                        if rng.chance(2) {
                            o.remove(&key);
                        } else if let Some(v) = o.get(&key).cloned() {
                            o.insert(format!("{key}_"), v);
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        node = match node {
            Value::Array(a) => &mut a[i],
            Value::Object(o) => match o.values_mut().nth(i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
        depth += 1;
    }
    let old = node.clone();
    *node = hostile(rng, &old);
}

/// A JSON text that nests `depth` arrays (parsers that recurse overflow their stack on it).
pub fn deep_nesting(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Mutated text of the JSON document `text`: usually 1–3 node edits re-serialized, sometimes
/// deep nesting spliced in; the caller adds byte havoc on top for broken syntax.
pub fn mutate_text(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let Ok(mut value) = serde_json::from_slice::<Value>(text) else { return text.to_vec() };
    if rng.chance(20)
        && let Value::Object(o) = &mut value
    {
        // Deep nesting spliced in as text (a `Value` that deep would overflow our own stack).
        let depth = *rng.pick(&[100usize, 1_000, 100_000]);
        o.insert("nested".into(), Value::Null);
        let s = serde_json::to_string(&value).unwrap_or_default();
        return s.replacen("\"nested\":", &format!("\"deep\":{},\"nested\":", deep_nesting(depth)), 1).into_bytes();
    }
    for _ in 0..1 + rng.below(3).min(rng.below(3)) {
        mutate_node(rng, &mut value);
    }
    let out = if rng.chance(2) { serde_json::to_vec(&value) } else { serde_json::to_vec_pretty(&value) };
    out.unwrap_or_else(|_| text.to_vec())
}
