//! Grading speed: pairs per second of `grade_text` in-process on the Math-Verify fixture's
//! (gold, response) pairs, repeated to a few thousand, beside Math-Verify's figure on the same
//! pairs (`tools/grader_diff/diff.py bench`, run when its venv exists) and the ratio.
//! Run: `cargo bench -p reasoner-tasks --bench grade_speed` (PAIRS=3000, MV_PAIRS=1000).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

const FIXTURE: &str = include_str!("../tests/fixtures/math_verify_pairs.jsonl");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let rows: Vec<(String, String)> = FIXTURE
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("gold"), s("response"))
        })
        .collect();
    let n = env_usize("PAIRS", 3000);
    let pairs: Vec<&(String, String)> = rows.iter().cycle().take(n).collect();
    // One warm-up pass, then the timed one.
    for (g, r) in pairs.iter().take(rows.len()) {
        std::hint::black_box(reasoner_tasks::grade_text(g, r, None).is_ok_and(|o| o.correct));
    }
    let start = Instant::now();
    let mut correct = 0usize;
    for (g, r) in &pairs {
        correct += usize::from(reasoner_tasks::grade_text(g, r, None).is_ok_and(|o| o.correct));
    }
    let secs = start.elapsed().as_secs_f64();
    let ours = n as f64 / secs;
    println!("reasoner grade (in-process): {n} pairs in {secs:.3} s = {ours:.0} pairs/s ({correct} equal)");

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("tools/grader_diff/.venv/bin/python");
    if !python.exists() {
        println!("math-verify: not measured (set up tools/grader_diff/.venv, see tools/grader_diff/README.md)");
        return;
    }
    let mv_pairs = env_usize("MV_PAIRS", 1000);
    let out = Command::new(&python)
        .arg(root.join("tools/grader_diff/diff.py"))
        .args([
            "bench",
            &root.join("crates/tasks/tests/fixtures/math_verify_pairs.jsonl").to_string_lossy(),
            &mv_pairs.to_string(),
        ])
        .output();
    let text = match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).to_string(),
        Err(e) => {
            println!("math-verify: could not run {}: {e}", python.display());
            return;
        }
    };
    print!("{text}");
    let peer = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[1] == "pairs/s")
        .and_then(|w| w[0].parse::<f64>().ok());
    match peer {
        Some(mv) => println!("ratio: {:.0}x faster than math-verify", ours / mv),
        None => println!("math-verify: no figure in its output"),
    }
}
