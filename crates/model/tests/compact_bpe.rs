//! The compact BPE model against the tokenizers crate's own BPE: same vocabulary and merges,
//! same pipeline around them, same ids on text neither was built from; and its memory.

use reasoner_model::text::compact_bpe::CompactBpe;
use reasoner_model::text::tokenizer::GgufTokenizer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{DecoderWrapper, Model, PreTokenizerWrapper, Tokenizer};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// (tokens by id, merges as "left right" lines) of a trained tokenizers BPE.
fn vocab_and_merges(tk: &Tokenizer) -> (Vec<String>, Vec<String>) {
    let json: Value = serde_json::from_str(&tk.to_string(false).unwrap()).unwrap();
    let vocab = json["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![String::new(); vocab.len()];
    for (t, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = t.clone();
    }
    let merges = json["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            Value::String(s) => s.clone(),
            Value::Array(pair) => format!("{} {}", pair[0].as_str().unwrap(), pair[1].as_str().unwrap()),
            other => panic!("merge {other}"),
        })
        .collect();
    (tokens, merges)
}

#[test]
fn compact_bpe_encodes_as_the_tokenizers_bpe_does() {
    // Train a 4000-token byte-level BPE on this crate's sources; test on the other crates'.
    let mut files = Vec::new();
    rust_sources(&repo().join("crates"), &mut files);
    let (train, test): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|p| p.starts_with(repo().join("crates/model")));
    assert!(train.len() >= 20 && test.len() >= 10);
    let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
        .vocab_size(4000)
        .min_frequency(2)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .show_progress(false)
        .build()
        .into();
    let mut reference = Tokenizer::new(BPE::default());
    reference.with_pre_tokenizer(Some(ByteLevel::default()));
    reference.with_decoder(Some(ByteLevel::default()));
    let train: Vec<String> = train.iter().map(|p| p.display().to_string()).collect();
    reference.train_from_files(&mut trainer, train).unwrap();
    let (tokens, merges) = vocab_and_merges(&reference);
    assert!(merges.len() > 3000, "{} merges", merges.len());

    for ignore_merges in [false, true] {
        let bpe = CompactBpe::new(&tokens, &merges, ignore_merges).unwrap();
        assert_eq!(bpe.get_vocab_size(), reference.get_vocab_size(false));
        let mut compact = GgufTokenizer::new(bpe);
        compact.with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::default())));
        compact.with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())));
        let mut reference = reference.clone();
        if ignore_merges {
            let bpe = BPE::builder()
                .vocab_and_merges(
                    tokens
                        .iter()
                        .enumerate()
                        .map(|(i, t)| (t.clone(), i as u32))
                        .collect::<tokenizers::models::bpe::Vocab>(),
                    merges
                        .iter()
                        .map(|m| m.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())).unwrap())
                        .collect(),
                )
                .ignore_merges(true)
                .build()
                .unwrap();
            reference.with_model(tokenizers::ModelWrapper::BPE(bpe));
        }
        let mut texts: Vec<String> = test.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
        texts.push("Ünïcödé ✓ 数学 — 12345.678 \t\t  tabs   and\n\n\nnewlines 🙂 x²+y²=z²".to_string());
        let mut total = 0;
        for text in &texts {
            let want = reference.encode(text.as_str(), false).unwrap();
            let got = compact.encode(text.as_str(), false).unwrap();
            assert_eq!(
                got.get_ids(),
                want.get_ids(),
                "ignore_merges {ignore_merges}: {:?}",
                &text[..text.len().min(80)]
            );
            assert_eq!(got.get_offsets(), want.get_offsets());
            assert_eq!(compact.decode(got.get_ids(), false).unwrap(), reference.decode(want.get_ids(), false).unwrap());
            total += want.get_ids().len();
        }
        assert!(total > 50_000, "only {total} tokens compared");
    }
}

#[test]
fn bad_merges_are_refused_with_the_line() {
    let tokens: Vec<String> = ["a", "b", "ab"].iter().map(|s| s.to_string()).collect();
    assert!(CompactBpe::new(&tokens, &["a b".into()], false).is_ok());
    let e = CompactBpe::new(&tokens, &["a c".into()], false).unwrap_err();
    assert!(e.contains("`a c`") && e.contains("`c`"), "{e}");
    let e = CompactBpe::new(&tokens, &["b a".into()], false).unwrap_err();
    assert!(e.contains("`ba`"), "{e}");
    assert!(CompactBpe::new(&tokens, &["ab".into()], false).unwrap_err().contains("not two tokens"));
}

#[test]
fn a_152k_vocabulary_fits_in_a_few_megabytes() {
    // Qwen2's vocabulary size: the numbers 0..100000 built digit by digit (99,990 merges), then
    // llama.cpp's [PADn] filler names.
    let mut tokens: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    tokens.extend((tokens.len()..151_936).map(|i| format!("[PAD{i}]")));
    let merges: Vec<String> = (10..100_000).map(|n| format!("{} {}", n / 10, n % 10)).collect();
    let bpe = CompactBpe::new(&tokens, &merges, false).unwrap();
    assert_eq!(bpe.token_to_id("[PAD151935]"), Some(151_935));
    assert_eq!(bpe.id_to_token(7).as_deref(), Some("7"));
    // Lowest rank first: "123" merges 1+2 (rank 2), then 12+3; in "98765", 6+5 (rank 55) and
    // 8+7 (rank 77) go before 9+8 (rank 88) could, and no merge joins 9, 87 and 65.
    let ids = |s: &str| bpe.tokenize(s).unwrap().iter().map(|t| t.id).collect::<Vec<u32>>();
    assert_eq!(ids("123"), [123]);
    assert_eq!(ids("98765"), [9, 87, 65]);
    // The tokenizers crate's BPE holds ~25 MB for this (two maps of owned strings and a merge map).
    assert!(bpe.heap_bytes() < 4 << 20, "{} bytes", bpe.heap_bytes());
}
