//! The tokenizer trainer on the tiny-r1 corpus: digits stay single tokens, the chat markers are
//! single added tokens, our loader reads what it writes, the chat template renders as R1's own
//! template does, and the traces fit a tiny model's context (their token lengths are printed).

use reasoner_model::bpe_train::{
    BOS, EOS, R1_CHAT_TEMPLATE, SPECIAL_TOKENS, train_tokenizer, train_tokenizer_from_texts,
};
use reasoner_model::chat_template::{ChatMessage, ChatTemplate};
use reasoner_model::tokenizer::{TextTokenizer, TokenizerConfig};
use reasoner_tasks::recipe_data::{EvalGuard, Mix, SftExample, sft_examples};
use std::collections::BTreeMap;
use std::path::Path;

fn corpus(sft: &[SftExample]) -> Vec<String> {
    let mut texts = reasoner_tasks::pretrain::pretrain_documents(2000, 1, &EvalGuard::default());
    for e in sft {
        texts.push(e.prompt().to_string());
        texts.push(e.reply().to_string());
    }
    texts
}

fn load(dir: &Path) -> (TextTokenizer, ChatTemplate) {
    let cfg = TokenizerConfig::read_optional(&dir.join("tokenizer_config.json")).unwrap();
    let tok = TextTokenizer::load(&dir.join("tokenizer.json"), &cfg).unwrap();
    let source = cfg.chat_template.as_deref().expect("chat_template in tokenizer_config.json");
    let tmpl =
        ChatTemplate::new(source, "tokenizer_config.json", cfg.bos_token.as_deref(), cfg.eos_token.as_deref()).unwrap();
    (tok, tmpl)
}

fn trained(vocab: usize) -> (tempfile::TempDir, Vec<SftExample>) {
    let dir = tempfile::tempdir().unwrap();
    let sft = sft_examples(3000, 1, &Mix::sft(), &EvalGuard::default()).unwrap();
    let out = train_tokenizer_from_texts(corpus(&sft), vocab, dir.path()).unwrap();
    assert_eq!(out.vocab_size, vocab);
    (dir, sft)
}

#[test]
fn digits_and_markers_are_single_tokens() {
    let (dir, _) = trained(1024);
    let (tok, _) = load(dir.path());
    assert_eq!(tok.bos_token.as_deref(), Some(BOS));
    assert_eq!(tok.eos_token.as_deref(), Some(EOS));
    for (id, t) in SPECIAL_TOKENS.iter().enumerate() {
        assert_eq!(tok.token_id(t), Some(id as u32), "{t}");
    }
    // No token but the ten digits themselves holds a digit.
    let mut digit_tokens = 0;
    for id in 0..tok.vocab_size() as u32 {
        let text = tok.decode(&[id], false).unwrap();
        if text.chars().any(|c| c.is_ascii_digit()) {
            assert_eq!(text.chars().count(), 1, "token {id} is {text:?}");
            digit_tokens += 1;
        }
    }
    assert_eq!(digit_tokens, 10);
    let ids = tok.encode("What is 347 + 5890?", false).unwrap();
    let pieces: Vec<String> = ids.iter().map(|&i| tok.decode(&[i], false).unwrap()).collect();
    assert!(
        pieces.ends_with(&[
            "3".into(),
            "4".into(),
            "7".into(),
            " + ".into(),
            "5".into(),
            "8".into(),
            "9".into(),
            "0".into(),
            "?".into()
        ]),
        "{pieces:?}"
    );
    // Raw text gets BOS, as R1's tokenizer adds it; rendered chat prompts already hold it.
    assert_eq!(tok.encode("hello", true).unwrap()[0], 0);
    assert_ne!(tok.encode("hello", false).unwrap()[0], 0);
    let marked =
        tok.encode("<｜User｜>hi<｜Assistant｜><think>\nok\n</think>\n\ndone<｜end▁of▁sentence｜>", false).unwrap();
    for special in [2, 3, 4, 5, 1] {
        assert!(marked.contains(&special), "{marked:?}");
    }
    for text in [
        "café ✓ 日本語 — emoji 🙂",
        "Try 55 + 36 = 91, 91 - 19 = 72.\n\\boxed{(55 + 36) - 19}",
        "  two  spaces\tand tab",
    ] {
        let ids = tok.encode(text, false).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), text);
    }
    // Decoding keeps the think tags (they are added, not special, as in R1) and drops markers.
    let t = tok.encode("<｜User｜>x<think>\ny\n</think>", false).unwrap();
    assert_eq!(tok.decode(&t, true).unwrap(), "x<think>\ny\n</think>");
}

#[test]
fn template_renders_like_r1s_own() {
    let (dir, _) = trained(512);
    let (_, tmpl) = load(dir.path());
    let user = ChatMessage::new("user", "What is 347 + 589?");
    let first = tmpl.render(std::slice::from_ref(&user), true, &Default::default()).unwrap();
    assert_eq!(first, "<｜begin▁of▁sentence｜><｜User｜>What is 347 + 589?<｜Assistant｜><think>\n");
    // DeepSeek's own template (R1-Distill-Qwen's tokenizer_config.json, kept for the golden
    // fixtures) renders the same text for conversations without tools.
    let r1 = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tools/golden/templates/deepseek_r1_distill_qwen.jinja"
    ))
    .unwrap();
    let r1 = ChatTemplate::new(&r1, "deepseek_r1_distill_qwen.jinja", Some(BOS), Some(EOS)).unwrap();
    let convs = vec![
        vec![user.clone()],
        vec![
            user.clone(),
            ChatMessage::new("assistant", "<think>\n7 + 9 = 16\n</think>\n\n347 + 589 = \\boxed{936}"),
            ChatMessage::new("user", "hello"),
        ],
        vec![ChatMessage::new("system", "Be brief."), user.clone()],
    ];
    for conv in &convs {
        for open in [true, false] {
            assert_eq!(
                tmpl.render(conv, open, &Default::default()).unwrap(),
                r1.render(conv, open, &Default::default()).unwrap()
            );
        }
    }
    let second = tmpl.render(&convs[1], true, &Default::default()).unwrap();
    assert!(
        second.contains("<｜Assistant｜>\n\n347 + 589 = \\boxed{936}<｜end▁of▁sentence｜><｜User｜>hello"),
        "{second}"
    );
    assert!(!second.contains("7 + 9 = 16"), "earlier thinking is dropped");
    assert!(R1_CHAT_TEMPLATE.contains("<think>\\n"));
}

#[test]
fn trains_from_text_and_jsonl_files() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("corpus.txt");
    std::fs::write(&text, reasoner_tasks::pretrain::pretrain_documents(300, 2, &EvalGuard::default()).join("\n\n"))
        .unwrap();
    let jsonl = dir.path().join("sft.jsonl");
    reasoner_tasks::recipe_data::write_sft_dataset(&jsonl, 300, 2, &Mix::sft(), &EvalGuard::default()).unwrap();
    let out = train_tokenizer(&[text, jsonl.clone()], 600, &dir.path().join("tok")).unwrap();
    assert!(out.vocab_size <= 600 && out.vocab_size > 400, "{}", out.vocab_size);
    let (tok, _) = load(&dir.path().join("tok"));
    // The SFT file's JSON syntax is not learned as text: no merged token holds `{"`.
    for id in 0..tok.vocab_size() as u32 {
        assert!(!tok.decode(&[id], false).unwrap().contains("{\""), "token {id}");
    }
    let bad = train_tokenizer(&[dir.path().join("missing.txt")], 600, dir.path()).unwrap_err().to_string();
    assert!(bad.contains("missing.txt"), "{bad}");
    assert!(
        train_tokenizer_from_texts(vec!["x".into()], 100, dir.path())
            .unwrap_err()
            .to_string()
            .contains("vocab_size 100")
    );
}

fn percentile(sorted: &[usize], q: f64) -> usize {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Prompt (rendered with the generation prompt) plus completion (the reply after `<think>\n`,
/// then EOS): the tokens one SFT example occupies.
#[test]
fn sft_examples_fit_a_tiny_context() {
    let (dir, _) = trained(1024);
    let (tok, tmpl) = load(dir.path());
    let sft = sft_examples(3000, 9, &Mix::sft(), &EvalGuard::default()).unwrap();
    let mut by_task: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for e in &sft {
        let prompt = tmpl.render(&[ChatMessage::new("user", e.prompt())], true, &Default::default()).unwrap();
        let completion = format!("{}{EOS}", e.reply().strip_prefix("<think>\n").unwrap());
        let n = tok.encode(&prompt, false).unwrap().len() + tok.encode(&completion, false).unwrap().len();
        by_task.entry(e.task.clone()).or_default().push(n);
    }
    println!("tokens per SFT example (prompt + completion), vocab 1024:");
    println!("{:<10} {:>5} {:>5} {:>5} {:>5} {:>5}", "task", "n", "min", "p50", "p95", "max");
    for (task, lens) in &mut by_task {
        lens.sort_unstable();
        println!(
            "{:<10} {:>5} {:>5} {:>5} {:>5} {:>5}",
            task,
            lens.len(),
            lens[0],
            percentile(lens, 0.5),
            percentile(lens, 0.95),
            lens[lens.len() - 1]
        );
    }
    let max = by_task.values().map(|l| l[l.len() - 1]).max().unwrap();
    assert!(max <= 384, "an SFT example takes {max} tokens");
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny_bpe");

/// Writes the committed fixture (512 tokens); `tools/tinydata/make_tokenizer_golden.py` then
/// records what the Python `tokenizers` library and Jinja2 make of it.
#[test]
#[ignore = "writes tests/fixtures/tiny_bpe; run by hand when the trainer changes"]
fn write_fixture() {
    let sft = sft_examples(1000, 4, &Mix::sft(), &EvalGuard::default()).unwrap();
    train_tokenizer_from_texts(corpus(&sft), 512, Path::new(FIXTURE)).unwrap();
}

#[derive(serde::Deserialize)]
struct Golden {
    encodings: Vec<GoldenEncoding>,
    renders: Vec<GoldenRender>,
}

#[derive(serde::Deserialize)]
struct GoldenEncoding {
    text: String,
    add_special_tokens: bool,
    ids: Vec<u32>,
    decoded: String,
    decoded_skip_special: String,
}

#[derive(serde::Deserialize)]
struct GoldenRender {
    messages: Vec<ChatMessage>,
    add_generation_prompt: bool,
    text: String,
}

/// Our loader against the Python `tokenizers` library (encode, decode) and Jinja2 (the chat
/// template, rendered as transformers renders it), on the committed fixture.
#[test]
fn loader_agrees_with_python_tokenizers_and_jinja2() {
    let dir = Path::new(FIXTURE);
    let golden: Golden = serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    let (tok, tmpl) = load(dir);
    assert!(golden.encodings.len() >= 8);
    for g in &golden.encodings {
        let ids = tok.encode(&g.text, g.add_special_tokens).unwrap();
        assert_eq!(ids, g.ids, "{:?}", g.text);
        assert_eq!(tok.decode(&ids, false).unwrap(), g.decoded);
        assert_eq!(tok.decode(&ids, true).unwrap(), g.decoded_skip_special);
    }
    for r in &golden.renders {
        assert_eq!(tmpl.render(&r.messages, r.add_generation_prompt, &Default::default()).unwrap(), r.text);
    }
}
