//! Agreement with Math-Verify, without Python: `fixtures/math_verify_pairs.jsonl` holds
//! (gold, response) pairs from published grader test suites with the verdict that the real
//! Math-Verify 0.9.0 gave (written by `tools/grader_diff/diff.py record`). Our grader must agree on
//! every pair except the deliberate disagreements listed below, each with its reason.

use reasoner_tasks::grade_text;

const FIXTURE: &str = include_str!("fixtures/math_verify_pairs.jsonl");

/// (gold, response, our verdict, why we differ from Math-Verify).
const DELIBERATE: &[(&str, &str, bool, &str)] = &[];

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
    assert!(rows.len() >= 300, "fixture has {} pairs", rows.len());
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
        let listed = DELIBERATE
            .iter()
            .any(|(g, resp, v, _)| *g == r.gold && *resp == r.response && v == ours);
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
    for (g, resp, _, why) in DELIBERATE {
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
}
