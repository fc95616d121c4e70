"""Collects (gold, response, expected) cases from published grader test suites.

Reads the pytest files of a Math-Verify checkout (huggingface/Math-Verify, tests/*.py) with
Python's `ast`, takes every `@pytest.mark.parametrize` list whose rows hold a gold, a prediction
and an expected verdict, and adds the hand-written cases of `extra_cases.jsonl` (other suites and
the issue's examples) and of `heldout_cases.jsonl` (NeMo-Skills' math_equal tests and this
project's pre-issue-22 grader table, both directions; measured before the grader was tuned on
them: 227 of 233 agreed with Math-Verify, 97.4%) and of `history_cases.jsonl` (the 8 pairs
that older commits of Math-Verify's tests held and HEAD does not; before tuning we agreed with
the suite's expected verdict on all 8 and with Math-Verify 0.9.0 on 5) and of
`fresh_cases.jsonl` (50 typical model outputs written after the grader was tuned, with no
expected verdict of their own: "expected" is Math-Verify's; 48 agreed before the two fixes
they prompted). Writes JSON lines: {"source", "gold", "response", "expected", "precision"}.

Usage: harvest.py MATH_VERIFY_TESTS_DIR OUT.jsonl
"""

import ast
import json
import pathlib
import sys

SUITE_FILES = [
    "test_all.py",
    "test_boxed.py",
    "test_numina_cases.py",
    "test_open_thoughts.py",
    "test_yujianll.py",
    "test_strict.py",
]


def literal_rows(decorator):
    """(argnames, rows) of a parametrize decorator, or None when it is not one."""
    if not (isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "parametrize"):
        return None
    names = [n.strip() for n in ast.literal_eval(decorator.args[0]).split(",")]
    rows = []
    for elt in decorator.args[1].elts:
        try:
            rows.append(ast.literal_eval(elt))
        except ValueError:
            # Rows built with f-strings (test_float_precision) are evaluated with `math` only.
            import math

            rows.append(eval(compile(ast.Expression(elt), "<row>", "eval"), {"math": math}))
    return names, rows


def harvest(tests_dir):
    cases = []
    for name in SUITE_FILES:
        tree = ast.parse((tests_dir / name).read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                found = literal_rows(deco)
                if not found:
                    continue
                names, rows = found
                if "gold" not in names or "pred" not in names:
                    continue
                verdict = "expected" if "expected" in names else "result"
                for row in rows:
                    r = dict(zip(names, row))
                    # One grader configuration: strict variables, no set/relation mixing from gold.
                    if r.get("strict") is False or r.get("allow_set_relation_comp") is True:
                        continue
                    cases.append(
                        {
                            "source": f"math-verify/{name}::{node.name}",
                            "gold": r["gold"],
                            "response": r["pred"],
                            "expected": bool(r[verdict]),
                            "precision": int(r.get("precision", 5 if node.name in ("test_float_precision", "test_sqrt_precision", "test_symbols") else 6)),
                        }
                    )
    return cases


def main():
    tests_dir = pathlib.Path(sys.argv[1])
    out = pathlib.Path(sys.argv[2])
    cases = harvest(tests_dir)
    for extra_name in ["extra_cases.jsonl", "heldout_cases.jsonl", "history_cases.jsonl", "fresh_cases.jsonl"]:
        extra = pathlib.Path(__file__).with_name(extra_name)
        if not extra.exists():
            continue
        for line in extra.read_text().splitlines():
            if line.strip():
                case = json.loads(line)
                case.setdefault("precision", 6)
                case.setdefault("expected", None)
                cases.append(case)
    seen = set()
    with out.open("w") as f:
        for c in cases:
            key = (c["gold"], c["response"])
            if key in seen:
                continue
            seen.add(key)
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"{len(seen)} cases -> {out}")


if __name__ == "__main__":
    main()
