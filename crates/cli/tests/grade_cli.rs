//! `reasoner grade` as a user runs it: a table of gold / response pairs through the binary
//! (`true` / `false` on stdout), the `--json` fields, countdown golds, and bad task names.

use serde_json::Value;
use std::process::{Command, Output};

fn reasoner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reasoner")).args(args).output().expect("run reasoner")
}

fn grade(gold: &str, response: &str, task: Option<&str>) -> String {
    let mut args = vec!["grade", "--gold", gold, "--response", response];
    if let Some(t) = task {
        args.extend(["--task", t]);
    }
    let out = reasoner(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    // Exit status 0 for correct, 1 for wrong: it must agree with what was printed.
    let code = if text == "true\n" { 0 } else { 1 };
    assert_eq!(out.status.code(), Some(code), "{gold} / {response}: {}", String::from_utf8_lossy(&out.stderr));
    text
}

const COUNTDOWN_GOLD: &str = r#"{"numbers":[19,36,55,7],"target":65}"#;

#[rustfmt::skip]
const TABLE: &[(&str, &str, Option<&str>, bool)] = &[
    // (gold, response, --task, correct)
    ("42", "The answer is \\boxed{42}.", None, true),
    ("42", "So we get \\boxed{43}.", None, false),
    ("1234", "Total: \\boxed{1,234}", None, true),
    ("\\frac{1}{2}", "Hence \\boxed{0.5}", None, true),
    ("\\frac{1}{2}", "Hence \\boxed{\\dfrac{1}{2}}", None, true),
    ("3/4", "\\boxed{4/3}", None, false),
    ("18", "It costs \\boxed{\\$18.00}", None, true),
    ("75", "\\boxed{75\\%}", None, true),
    ("5", "The answer is 5 cm.", None, true),
    // Thinking is dropped first: only what follows </think> counts.
    ("7", "<think>maybe \\boxed{7}</think>The answer is \\boxed{8}.", None, false),
    ("7", "<think>maybe \\boxed{8}</think>The answer is \\boxed{7}.", None, true),
    ("7", "<think>never finished \\boxed{7}", None, false),
    // Data-set task names grade as math answers.
    ("204", "\\boxed{204}", Some("aime"), true),
    ("72", "#### so \\boxed{72}", Some("gsm8k"), true),
    // Countdown: any expression using the numbers once each that hits the target.
    (COUNTDOWN_GOLD, "<answer>55 + 36 - 7 - 19</answer>", Some("countdown"), true),
    (COUNTDOWN_GOLD, "<answer>55 + 10</answer>", Some("countdown"), false),
    ("19 36 55 7 -> 65", "<answer>(55 - 36) * 7 / 19 + 58</answer>", Some("countdown"), false),
    ("19 36 55 7 -> 65", "\\boxed{55 + 36 - 7 - 19}", Some("countdown"), true),
];

#[test]
fn table_through_the_binary() {
    let mut wrong = Vec::new();
    for &(gold, response, task, expected) in TABLE {
        let out = grade(gold, response, task);
        let want = if expected { "true\n" } else { "false\n" };
        if out != want {
            wrong.push(format!("{gold:?} / {response:?} ({task:?}): got {out:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} rows wrong:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn json_names_answer_and_form() {
    let out =
        reasoner(&["grade", "--gold", "\\frac{1}{2}", "--response", "<think>hmm</think>so \\boxed{0.5}", "--json"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["correct"], true);
    assert_eq!(v["extracted"], "0.5");
    assert_eq!(v["form"], "boxed");
    assert_eq!(v["gold"], "\\frac{1}{2}");
    assert_eq!(v["task"], "math");

    let v: Value =
        serde_json::from_slice(&reasoner(&["grade", "--gold", "3", "--response", "no answer here", "--json"]).stdout)
            .unwrap();
    assert_eq!((v["correct"].clone(), v["extracted"].clone()), (Value::Bool(false), Value::Null));
}

#[test]
fn countdown_json_says_why_it_failed() {
    let out = reasoner(&[
        "grade",
        "--task",
        "countdown",
        "--gold",
        COUNTDOWN_GOLD,
        "--response",
        "<answer>55 + 19 - 7 - 2</answer>",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["task"], "countdown");
    assert_eq!(v["correct"], false);
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
}

#[test]
fn bad_task_and_bad_countdown_gold_fail() {
    let out = reasoner(&["grade", "--task", "divide", "--gold", "1", "--response", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("divide") && err.contains("countdown") && err.contains("gsm8k"), "{err}");
    assert!(out.stdout.is_empty());

    let out = reasoner(&["grade", "--task", "countdown", "--gold", "not a spec", "--response", "<answer>1</answer>"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a spec"));
}
