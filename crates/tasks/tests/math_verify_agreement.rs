//! Agreement with Math-Verify, without Python: `fixtures/math_verify_pairs.jsonl` holds
//! (gold, response) pairs from published grader test suites with the verdict that the real
//! Math-Verify 0.9.0 gave (written by `tools/grader_diff/diff.py record`). Our grader must agree on
//! every pair except the deliberate disagreements listed below, each with its reason.

use reasoner_tasks::grade_text;

const FIXTURE: &str = include_str!("fixtures/math_verify_pairs.jsonl");

/// (gold, response, our verdict, why we differ from Math-Verify on purpose).
const DELIBERATE: &[(&str, &str, bool, &str)] = &[
    (
        "$1000$",
        "\\boxed{1\\,000}",
        true,
        "issue 22 asks for thin-space thousands separators (`1\\,000`); Math-Verify reads a product",
    ),
    (
        "$7$",
        "<think>so \\boxed{7}</think> The final answer is 8.",
        false,
        "an answer inside <think> never counts; Math-Verify does not know thinking",
    ),
    (
        "$8$",
        "<think>so \\boxed{7}</think> The final answer is 8.",
        true,
        "the answer after </think> is 8; Math-Verify takes the box inside the thinking",
    ),
    (
        "$42$",
        "The answer is \\boxed{42.}.",
        true,
        "a full stop after an answer is punctuation; Math-Verify fails to parse `42.` in a box",
    ),
    (
        "$1.5e3$",
        "The answer is \\boxed{1500}.",
        true,
        "issue 22 asks for scientific notation; Math-Verify reads `1.5e3` as 1.5·e·3",
    ),
    (
        "$30$",
        "The answer is \\boxed{30°}.",
        true,
        "a degree sign carries no value (as `^\\circ` does in both graders); Math-Verify fails on the unicode sign",
    ),
    ("$(-\\infty, 2]$", "The answer is \\boxed{(-∞, 2]}.", true, "unicode ∞ is \\infty; Math-Verify does not read it"),
    (
        "$18.5$",
        "The answer is \\boxed{18.50 dollars per day}.",
        true,
        "issue 22: units and words after a number; Math-Verify reads the letters as variables",
    ),
    (
        "$1/3$",
        "$\\k = \\frac{1}{3}$",
        true,
        "an unknown command names a symbol, so `\\k = 1/3` names 1/3 (an older Math-Verify test expected equal)",
    ),
    (
        "$a +z = 0$",
        "$0$",
        false,
        "an equation is no value (HEAD's suite expects `a + 3z = 0` ≠ 0; 0.9.0 accepts this older variant)",
    ),
    (
        "$1 - \\frac{1}{\\mathrm{e}}$",
        "$1 + \\frac{1}{\\mathrm{e}}$",
        false,
        "1 - 1/e and 1 + 1/e differ; Math-Verify 0.9.0 accepts them (its test suite records this as expected)",
    ),
];

/// Pairs where Math-Verify is right and we are not yet: (gold, response, what is missing).
/// None at present; kept so that a new gap is listed, not hidden.
const GAPS: &[(&str, &str, &str)] = &[];

/// Agreement must not fall below this (measured: 616 of 627 pairs, 98.2%).
const MIN_AGREEMENT: f64 = 0.975;

struct Row {
    source: String,
    gold: String,
    response: String,
    expected: bool,
    math_verify: bool,
}

fn rows() -> Vec<Row> {
    FIXTURE
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("fixture line is JSON");
            let s = |k: &str| v[k].as_str().expect("string field").to_string();
            let b = |k: &str| v[k].as_bool().expect("bool field");
            Row {
                source: s("source"),
                gold: s("gold"),
                response: s("response"),
                expected: b("expected"),
                math_verify: b("math_verify"),
            }
        })
        .collect()
}

#[test]
fn agrees_with_math_verify() {
    let rows = rows();
    assert!(rows.len() >= 600, "fixture has {} pairs", rows.len());
    let mut differ = Vec::new();
    let mut vs_expected = 0;
    for r in &rows {
        let ours = grade_text(&r.gold, &r.response, None).map(|o| o.correct).unwrap_or(false);
        vs_expected += usize::from(ours == r.expected);
        if ours != r.math_verify {
            differ.push((r, ours));
        }
    }
    let n = rows.len();
    let agree = n - differ.len();
    println!(
        "{n} pairs: agree with Math-Verify on {agree} ({:.1}%), with the suites' expected verdicts on {vs_expected} ({:.1}%)",
        100.0 * agree as f64 / n as f64,
        100.0 * vs_expected as f64 / n as f64
    );
    let mut unexplained = Vec::new();
    for (r, ours) in &differ {
        let listed = DELIBERATE.iter().any(|(g, resp, v, _)| *g == r.gold && *resp == r.response && v == ours)
            || GAPS.iter().any(|(g, resp, _)| *g == r.gold && *resp == r.response);
        if !listed {
            unexplained.push(format!(
                "ours={} math_verify={} expected={} [{}]\n  gold: {:?}\n  resp: {:?}",
                u8::from(*ours),
                u8::from(r.math_verify),
                u8::from(r.expected),
                r.source,
                r.gold,
                r.response.chars().take(200).collect::<String>()
            ));
        }
    }
    let listed = DELIBERATE.iter().map(|(g, r, _, why)| (g, r, why)).chain(GAPS.iter().map(|(g, r, why)| (g, r, why)));
    for (g, resp, why) in listed {
        assert!(
            differ.iter().any(|(r, _)| r.gold == *g && r.response == *resp),
            "listed as a deliberate disagreement but we now agree ({why}): {g:?} / {resp:?}"
        );
    }
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreements with Math-Verify:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(agree as f64 / n as f64 >= MIN_AGREEMENT, "agreement {agree}/{n} fell below {MIN_AGREEMENT}");
}
