//! Hardening: a fixture's tokenizer.json with each value outside the vocabulary and merges
//! replaced by hostile ones (null, zero, negative, past u32, empty string/list/object), plus
//! hand-made broken parts (a template post-processor naming a missing token, merges of absent
//! tokens, an added token with an id past the vocabulary). Loading, encoding and decoding must
//! succeed or return an error naming the file — the `tokenizers` library panics on some of these,
//! and those panics must come back as our errors. Enumerated, so every case replays each run.

use reasoner_model::tokenizer::{TextTokenizer, TokenizerConfig};
use reasoner_testutil::fixture;
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Paths (JSON pointers) of every value below the top-level sections, except the vocabulary
/// and merges themselves (mutating 400 tokens one by one finds nothing new).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if at == "/model/vocab" || at == "/model/merges" {
        out.push(at);
        return;
    }
    if !at.is_empty() {
        out.push(at.clone());
    }
    match v {
        Value::Object(m) => {
            m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out))
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn hostile() -> Vec<Value> {
    vec![
        Value::Null,
        json!(0),
        json!(-1),
        json!(4294967296u64),
        json!(u64::MAX),
        json!(""),
        json!([]),
        json!({}),
        json!("x"),
    ]
}

#[test]
fn mutated_tokenizers_load_and_run_or_fail_cleanly() {
    let base: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("qwen2_f32").join("tokenizer.json")).unwrap()).unwrap();
    let mut docs: Vec<(String, Value)> = Vec::new();
    let mut ptrs = Vec::new();
    pointers(&base, String::new(), &mut ptrs);
    for p in &ptrs {
        for h in hostile() {
            let mut d = base.clone();
            *d.pointer_mut(p).unwrap() = h.clone();
            docs.push((format!("{p} = {h}"), d));
        }
    }
    let crafted = [
        (
            "/post_processor",
            json!({"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<missing>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "pair": [], "special_tokens": {}}),
        ),
        ("/model/merges", json!([["zz", "qq"], ["Ġ", "Ġ"]])),
        ("/added_tokens/0/id", json!(u32::MAX)),
        ("/normalizer", json!({"type": "Replace", "pattern": {"Regex": "("}, "content": "x"})),
        (
            "/pre_tokenizer",
            json!({"type": "Split", "pattern": {"Regex": "(?<=x)"}, "behavior": "Isolated", "invert": false}),
        ),
        (
            "/decoder",
            json!({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": ""}, "content": "x"}]}),
        ),
    ];
    for (p, v) in crafted {
        let mut d = base.clone();
        *d.pointer_mut(p).unwrap() = v.clone();
        docs.push((format!("{p} = {v}"), d));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let (mut loaded, mut refused) = (0, 0);
    for (what, doc) in &docs {
        std::fs::write(&path, serde_json::to_vec(doc).unwrap()).unwrap();
        let outcome =
            catch_unwind(AssertUnwindSafe(|| match TextTokenizer::load(&path, &TokenizerConfig::default()) {
                Ok(t) => {
                    for text in ["What is 347 + 589?", "", "<｜User｜>hi", "\u{0}\u{ffff}"] {
                        if let Ok(ids) = t.encode(text, true) {
                            let _ = t.decode(&ids, false);
                        }
                    }
                    let _ = t.decode(&[0, 1, u32::MAX], false);
                    true
                }
                Err(e) => {
                    assert!(e.to_string().contains("tokenizer.json"), "{what}: error does not name the file: {e}");
                    false
                }
            }));
        match outcome {
            Ok(true) => loaded += 1,
            Ok(false) => refused += 1,
            Err(_) => panic!("{what}: panicked through our error handling"),
        }
    }
    eprintln!("{} mutated tokenizer.json files: {loaded} loaded and ran, {refused} refused by name", docs.len());
    assert!(refused > 0 && loaded > 0);
}
