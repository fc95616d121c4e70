"""Differential test of our grader against Math-Verify (PyPI `math-verify`).

`record`: grades every case of CASES.jsonl with Math-Verify, configured as its own test suite
does (LaTeX with boxed priority 0 + plain expressions for both sides, strict, rounding to the
case's precision), and writes the fixture with the verdict added as "math_verify".
`compare`: runs our grader in-process over the fixture (the `grade_pairs` example of
reasoner-tasks) and lists every pair where the verdicts differ.
`bench`: pairs per second of Math-Verify on the fixture, repeated to N pairs.

Usage: diff.py record CASES.jsonl FIXTURE.jsonl | diff.py compare FIXTURE.jsonl | diff.py bench FIXTURE.jsonl N
"""

import json
import pathlib
import subprocess
import sys
import time

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

CONFIGS = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
REPO = pathlib.Path(__file__).resolve().parents[2]


def math_verify(gold, response, precision=6):
    try:
        return bool(verify(parse(gold, CONFIGS), parse(response, CONFIGS), float_rounding=precision, strict=True))
    except Exception:  # Math-Verify's own timeouts and parse errors count as "not equal".
        return False


def load(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line.strip()]


def record(cases_path, fixture_path):
    rows = load(cases_path)
    with open(fixture_path, "w") as f:
        for row in rows:
            # One precision for every pair, as our grader has one: Math-Verify's default (6).
            row["math_verify"] = math_verify(row["gold"], row["response"])
            if row.get("expected") is None:  # pairs without a suite verdict take Math-Verify's
                row["expected"] = row["math_verify"]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    agree = sum(r["math_verify"] == r["expected"] for r in rows)
    print(f"{len(rows)} pairs; Math-Verify agrees with the suites' expected verdicts on {agree} ({100 * agree / len(rows):.1f}%)")


def ours(fixture_path):
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "reasoner-tasks", "--example", "grade_pairs", "--", str(pathlib.Path(fixture_path).resolve())],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout
    return [line.strip() == "1" for line in out.splitlines() if line.strip() in ("0", "1")]


def compare(fixture_path):
    rows = load(fixture_path)
    verdicts = ours(fixture_path)
    differ = [(r, v) for r, v in zip(rows, verdicts) if v != r["math_verify"]]
    for r, v in differ:
        print(f"ours={int(v)} math_verify={int(r['math_verify'])} expected={int(r['expected'])} [{r['source']}]\n  gold: {r['gold']!r}\n  resp: {r['response'][:300]!r}")
    n = len(rows)
    vs_expected = sum(v == r["expected"] for r, v in zip(rows, verdicts))
    print(f"{n} pairs: agree with Math-Verify on {n - len(differ)} ({100 * (n - len(differ)) / n:.1f}%), with the expected verdicts on {vs_expected} ({100 * vs_expected / n:.1f}%)")


def bench(fixture_path, n):
    rows = load(fixture_path)
    pairs = [(rows[i % len(rows)]["gold"], rows[i % len(rows)]["response"]) for i in range(n)]
    start = time.perf_counter()
    for g, r in pairs:
        math_verify(g, r)
    secs = time.perf_counter() - start
    print(f"math-verify: {n} pairs in {secs:.2f} s = {n / secs:.1f} pairs/s")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "record":
        record(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2])
    elif cmd == "bench":
        bench(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit(__doc__)
