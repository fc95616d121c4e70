//! `reasoner eval` as a user runs it, on the tiny random fixtures. Their answers are gibberish, so
//! these check structure (summary keys and ranges, per-item JSONL, the PNG, samples per item,
//! seeds, data formats, bad input), not accuracy. Every run stays small: n ≤ 4, 8 tokens.

use reasoner_testutil::fixture_arg;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const SUMMARY_KEYS: [&str; 7] = ["task", "n", "samples", "pass_at_1", "cons_at_k", "mean_tokens", "mean_think_tokens"];

/// `reasoner eval --model FIXTURE --max-tokens 8 ARGS…`
fn eval_on(model: &str, args: &[&str]) -> Output {
    let model = fixture_arg(model);
    Command::new(env!("CARGO_BIN_EXE_reasoner"))
        .args(["eval", "--model", &model, "--max-tokens", "8"])
        .args(args)
        .output()
        .expect("run reasoner")
}

fn eval(args: &[&str]) -> Output {
    eval_on("qwen2_f32", args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one JSON line `--json` prints.
fn summary(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", stderr(out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "--json prints one line: {text}");
    serde_json::from_str(&text).expect("a JSON object on stdout")
}

fn items(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn assert_summary_ranges(v: &Value, n: u64, samples: u64) {
    for key in SUMMARY_KEYS {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert!(
        keys.iter().all(|k| SUMMARY_KEYS.contains(&k.as_str()) || *k == "tokens_per_sec" || *k == "seed"),
        "{keys:?}"
    );
    assert_eq!(v["n"], n);
    assert_eq!(v["samples"], samples);
    for key in ["pass_at_1", "cons_at_k"] {
        let x = v[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{key} = {x}");
    }
    let tokens = v["mean_tokens"].as_f64().unwrap();
    let think = v["mean_think_tokens"].as_f64().unwrap();
    assert!(tokens > 0.0 && tokens <= 8.0, "mean_tokens {tokens}");
    assert!((0.0..=tokens).contains(&think), "mean_think_tokens {think}");
    assert!(v["tokens_per_sec"].as_f64().unwrap() > 0.0);
    // The sampler's seed, drawn at random unless --seed: printed so the run can be repeated.
    assert!(v["seed"].is_u64(), "seed: {v}");
}

#[test]
fn json_summary_has_the_design_keys() {
    let v = summary(&eval(&["--task", "add", "--n", "4", "--json"]));
    assert_summary_ranges(&v, 4, 1);
    assert_eq!(v["task"], "add");
}

#[test]
fn table_on_stdout_without_json() {
    let out = eval(&["--task", "mul", "--n", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("task") && lines[0].contains("pass@1") && lines[0].contains("cons@K"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("mul ")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("all (mul)")), "{text}");
    assert!(text.contains("tokens/s"), "{text}");
}

#[test]
fn out_writes_one_line_per_item_and_a_png_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs/add.jsonl");
    let v = summary(&eval(&["--task", "add", "--n", "3", "--json", "--out", p(&out)]));
    assert_eq!(v["n"], 3);
    let rows = items(&out);
    assert_eq!(rows.len(), 3);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["index"], i as u64);
        assert_eq!(row["task"], "add");
        assert_eq!(row["difficulty"], 2);
        assert!(row["prompt"].as_str().unwrap().starts_with("What is"));
        assert!(row["gold"].as_str().unwrap().parse::<i64>().is_ok());
        let samples = row["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 1);
        let tokens = samples[0]["tokens"].as_u64().unwrap();
        assert!((1..=8).contains(&tokens));
        assert_eq!(row["n_correct"].as_u64().unwrap(), u64::from(samples[0]["correct"] == true));
    }
    let png = std::fs::read(dir.path().join("runs/add.png")).expect("default plot next to --out");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // --plot picks the path, and works without --out.
    let plot = dir.path().join("acc.png");
    summary(&eval(&["--task", "linear", "--n", "2", "--json", "--plot", p(&plot)]));
    assert_eq!(&std::fs::read(&plot).unwrap()[..4], b"\x89PNG");
}

#[test]
fn samples_k_per_item() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k.jsonl");
    let v = summary(&eval(&["--task", "sub", "--n", "2", "--samples", "2", "--json", "--out", p(&out)]));
    assert_summary_ranges(&v, 2, 2);
    for row in items(&out) {
        assert_eq!(row["samples"].as_array().unwrap().len(), 2);
        let pass = row["pass_at_1"].as_f64().unwrap();
        assert!([0.0, 0.5, 1.0].contains(&pass), "{pass}");
    }
}

/// llama_f32's random weights write varied, seed-sensitive text (qwen2_f32's is mostly U+FFFD).
#[test]
fn same_seed_same_results_whatever_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, seed: &str, batch: &str| {
        let out = dir.path().join(name);
        let args = ["--task", "add", "--n", "3", "--samples", "2", "--seed", seed, "--batch", batch, "--json"];
        summary(&eval_on("llama_f32", &[&args[..], &["--out", p(&out)]].concat()));
        std::fs::read_to_string(&out).unwrap()
    };
    let a = run("a.jsonl", "11", "8");
    assert_eq!(a, run("b.jsonl", "11", "8"), "same seed, same results");
    // Each request carries its own seed (--seed + k), so batching does not change the draws.
    assert_eq!(a, run("c.jsonl", "11", "1"), "batch size changed the results");
    assert_ne!(a, run("d.jsonl", "12", "8"), "another seed should draw other text");
}

#[test]
fn difficulty_list_generates_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("levels.jsonl");
    let v = summary(&eval(&["--task", "countdown", "--n", "2", "--difficulty", "1,3", "--json", "--out", p(&out)]));
    assert_eq!(v["n"], 4);
    let rows = items(&out);
    let levels: Vec<u64> = rows.iter().map(|r| r["difficulty"].as_u64().unwrap()).collect();
    assert_eq!(levels, [1, 1, 3, 3]);
    let ids: std::collections::HashSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4, "ids stay unique across levels");

    let bad = eval(&["--task", "add", "--n", "1", "--difficulty", "9"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("difficulty 9"), "{}", stderr(&bad));
}

#[test]
fn reads_gsm8k_math_and_aime_files() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        (
            "gsm8k",
            concat!(
                r#"{"question":"Tom has 3 apples and buys 4 more. How many?","answer":"3 + 4 = 7\n#### 7"}"#,
                "\n",
                r#"{"question":"A shop sells 1,000 pens a day. How many in 2 days?","answer":"2 * 1000\n#### 2,000"}"#,
                "\n",
            ),
            vec!["7", "2000"],
            vec![None, None],
        ),
        (
            "math",
            concat!(
                r#"{"problem":"What is $\\frac{1}{2}+\\frac{1}{4}$?","solution":"It is $\\boxed{\\frac{3}{4}}$.","level":"Level 2","type":"Algebra"}"#,
                "\n",
                r#"{"problem":"Compute $2^5$.","solution":"...","answer":"32","subject":"Algebra","level":1,"unique_id":"test/algebra/1.json"}"#,
                "\n",
            ),
            vec!["\\frac{3}{4}", "32"],
            vec![Some(2u64), Some(1)],
        ),
        (
            "aime",
            concat!(
                r#"{"id":"2024-I-1","problem":"Find the remainder when 2024 is divided by 1000.","answer":24}"#,
                "\n",
                r#"{"id":"2024-I-2","problem":"Find 3 * 11.","answer":"033"}"#,
                "\n",
            ),
            vec!["24", "033"],
            vec![None, None],
        ),
    ];
    for (task, text, golds, levels) in sets {
        let data = dir.path().join(format!("{task}.jsonl"));
        std::fs::write(&data, text).unwrap();
        let out = dir.path().join(format!("{task}-out.jsonl"));
        let v = summary(&eval(&["--data", p(&data), "--json", "--out", p(&out)]));
        assert_summary_ranges(&v, 2, 1);
        assert_eq!(v["task"], task);
        let rows = items(&out);
        let got: Vec<&str> = rows.iter().map(|r| r["gold"].as_str().unwrap()).collect();
        assert_eq!(got, golds, "{task}");
        let got: Vec<Option<u64>> = rows.iter().map(|r| r["difficulty"].as_u64()).collect();
        assert_eq!(got, levels, "{task}");
        assert!(rows.iter().all(|r| r["task"] == task));
    }

    // Our own format, countdown included, with --n taking the first items.
    let data = dir.path().join("ours.jsonl");
    std::fs::write(
        &data,
        concat!(
            r#"{"prompt":"What is 2 + 2?","answer":"4","task":"add"}"#,
            "\n",
            r#"{"prompt":"Using [1, 3, 4] make 4.","answer":"1 + 3","task":"countdown","numbers":[1,3,4],"target":4}"#,
            "\n",
            r#"{"prompt":"What is 5 - 1?","answer":"4"}"#,
            "\n",
        ),
    )
    .unwrap();
    let v = summary(&eval(&["--data", p(&data), "--n", "2", "--json"]));
    assert_eq!(v["n"], 2);
    assert_eq!(v["task"], "ours", "a mixed file goes under its name");

    // Rows of ours without `task` are `jsonl` (countdown with numbers and target), never
    // "unknown"; a MATH-style row with no solution is MATH, not AIME.
    let data = dir.path().join("untagged.jsonl");
    std::fs::write(
        &data,
        concat!(
            r#"{"prompt":"What is 5 - 1?","answer":"4"}"#,
            "\n",
            r#"{"prompt":"Using [1, 3] make 4.","answer":"1 + 3","numbers":[1,3],"target":4}"#,
            "\n",
            r#"{"problem":"What is $2+3$?","answer":"5"}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("untagged-out.jsonl");
    summary(&eval(&["--data", p(&data), "--json", "--out", p(&out)]));
    let tasks: Vec<String> = items(&out).iter().map(|r| r["task"].as_str().unwrap().to_string()).collect();
    assert_eq!(tasks, ["jsonl", "countdown", "math"]);
}

#[test]
fn malformed_line_fails_with_its_number_unless_skip_bad() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("broken.jsonl");
    std::fs::write(
        &data,
        "{\"prompt\":\"What is 1 + 1?\",\"answer\":\"2\"}\n\n{\"prompt\": oops\n{\"prompt\":\"What is 2 + 3?\",\"answer\":\"5\"}\n",
    )
    .unwrap();
    let out = eval(&["--data", p(&data), "--json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("broken.jsonl:3"), "{err}");
    assert!(err.contains("--skip-bad"), "the error suggests --skip-bad: {err}");

    let out = eval(&["--data", p(&data), "--skip-bad", "--json"]);
    assert_eq!(summary(&out)["n"], 2);
    assert!(stderr(&out).contains("broken.jsonl:3"), "skipped lines are reported: {}", stderr(&out));
}

#[test]
fn unknown_task_lists_the_known_ones() {
    let out = eval(&["--task", "divide", "--n", "2"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--task") && err.contains("'divide'"), "{err}");
    for known in ["add", "sub", "mul", "linear", "countdown", "mixed"] {
        assert!(err.contains(known), "{known} missing: {err}");
    }
}

#[test]
fn bad_flag_combinations_fail() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("one.jsonl");
    std::fs::write(&data, "{\"prompt\":\"q\",\"answer\":\"1\"}\n").unwrap();
    for args in [
        vec!["--task", "add"],                                 // --n missing
        vec!["--n", "2"],                                      // neither --task nor --data
        vec!["--task", "add", "--n", "1", "--data", p(&data)], // both
        vec!["--task", "add", "--n", "1", "--no-instruction", "--instruction", "x"],
        vec!["--task", "add", "--n", "1", "--samples", "0"],
        vec!["--task", "add", "--n", "0"],
        vec!["--task", "add", "--n", "1", "--skip-bad"], // --skip-bad is for --data
    ] {
        let out = eval(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!stderr(&out).is_empty());
    }
    let missing = eval(&["--data", p(&dir.path().join("missing.jsonl"))]);
    assert!(stderr(&missing).contains("missing.jsonl"), "{}", stderr(&missing));
}

#[test]
fn instruction_flags_run() {
    for extra in [&["--no-instruction"][..], &["--instruction", "Answer with a number."][..]] {
        let v = summary(&eval(&[&["--task", "add", "--n", "1", "--json"][..], extra].concat()));
        assert_eq!(v["n"], 1);
    }
}

/// A template that opens `<think>` in the prompt (R1-Distill's): the graded text starts inside
/// thinking, so an unclosed `<think>` never yields an answer.
#[test]
fn template_opened_thinking_is_put_back_before_grading() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("think.jsonl");
    let v = summary(&eval_on(
        "qwen2_bf16_sharded",
        &["--task", "add", "--n", "2", "--samples", "2", "--json", "--out", p(&out)],
    ));
    assert_summary_ranges(&v, 2, 2);
    for row in items(&out) {
        for s in row["samples"].as_array().unwrap() {
            let text = s["response"].as_str().unwrap();
            assert!(text.starts_with("<think>"), "{text:?}");
            if !text.contains("</think>") {
                assert_eq!(s["extracted"], Value::Null, "{text:?}");
                assert_eq!(s["think_tokens"], s["tokens"], "all of it is thinking: {s}");
            }
        }
    }
}
