//! Grades every (gold, response) pair of a JSON-lines file in-process and prints one verdict per
//! line (`1` equal, `0` not): the Rust side of `tools/grader_diff/diff.py compare`.
//! Usage: `cargo run --release -p reasoner-tasks --example grade_pairs -- PAIRS.jsonl`

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: grade_pairs PAIRS.jsonl");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("{path}:{}: {e}", n + 1);
                return ExitCode::from(2);
            }
        };
        let field = |k: &str| row.get(k).and_then(|v| v.as_str()).unwrap_or_default();
        let correct =
            reasoner_tasks::grade_text(field("gold"), field("response"), None).map(|o| o.correct).unwrap_or(false);
        println!("{}", u8::from(correct));
    }
    ExitCode::SUCCESS
}
