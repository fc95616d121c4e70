//! The math grader: is an extracted answer equal to the gold one? Normalizes surface form,
//! splits tuples/intervals/sets/lists, then compares values exactly (rationals) or
//! symbolically (expressions at random points). Also the problem-level entry points.

pub mod expr;
pub mod normalize;
pub mod number;
pub mod structure;

use crate::countdown::{countdown_check, countdown_verify};
use crate::extract::{AnswerForm, extract};
use crate::problem::{Problem, TaskError, check_task_name};
use expr::{Expr, expressions_equal, parse_expr};
use normalize::{clean_scalar, normalize};
use num_rational::BigRational;
use number::{numbers_equal, parse_number};
use serde::{Deserialize, Serialize};
use structure::{answers_equal, parse_answer};

/// True when `extracted` is mathematically the same answer as `gold`.
pub fn grade(gold: &str, extracted: &str) -> bool {
    // Answers this long are not math answers; compare them as text so degenerate outputs stay
    // cheap and cannot overflow the recursive parsers.
    if gold.len() > MAX_ANSWER_CHARS || extracted.len() > MAX_ANSWER_CHARS {
        return compact(gold) == compact(extracted);
    }
    let g = normalize(gold);
    let e = normalize(extracted);
    if g.is_empty() || e.is_empty() {
        return false;
    }
    if compact(&g) == compact(&e) {
        return true;
    }
    answers_equal(&parse_answer(&g), &parse_answer(&e), &scalar_equal)
}

const MAX_ANSWER_CHARS: usize = 4000;
/// Longest value handed to the expression parser and evaluator (recursion depth stays small).
const MAX_EXPR_CHARS: usize = 500;

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// A run of three or more letters outside `\commands` (and not a function name) marks a word
/// answer such as "Monday", which is compared as text rather than as a product of variables.
fn is_text(s: &str) -> bool {
    let mut run = String::new();
    let mut in_command = false;
    let mut words = Vec::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphabetic() {
            if !in_command {
                run.push(c);
            }
        } else {
            in_command = c == '\\';
            if !run.is_empty() {
                words.push(std::mem::take(&mut run));
            }
        }
    }
    const FUNCTIONS: [&str; 7] = ["sin", "cos", "tan", "log", "exp", "sqrt", "pi"];
    words
        .iter()
        .any(|w| w.len() >= 3 && !FUNCTIONS.contains(&w.as_str()))
}

/// `(A)` and `A` name the same choice.
fn choice_letter(s: &str) -> Option<char> {
    let inner = s
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(s)
        .trim();
    let mut chars = inner.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_uppercase() => Some(c),
        _ => None,
    }
}

const RELATIONS: [&str; 7] = ["\\le", "\\ge", "\\ne", "<", ">", "=", "\\approx"];

/// Splits `lhs REL rhs` at its only relation, if it has exactly one.
fn split_relation(s: &str) -> Option<(&str, &'static str, &str)> {
    let mut found = None;
    for rel in RELATIONS {
        let mut from = 0;
        while let Some(p) = s[from..].find(rel) {
            let at = from + p;
            let is_prefix_of_command = rel.starts_with('\\')
                && s[at + rel.len()..].starts_with(|c: char| c.is_ascii_alphabetic());
            if !is_prefix_of_command {
                if found.is_some() {
                    return None;
                }
                found = Some((at, rel));
            }
            from = at + rel.len();
        }
    }
    let (at, rel) = found?;
    Some((&s[..at], rel, &s[at + rel.len()..]))
}

/// Equality of two single values (no top-level commas).
pub fn scalar_equal(a: &str, b: &str) -> bool {
    let (a, b) = (clean_scalar(a), clean_scalar(b));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    if compact(&a) == compact(&b) {
        return true;
    }
    if let (Some(x), Some(y)) = (choice_letter(&a), choice_letter(&b)) {
        return x == y;
    }
    if is_text(&a) || is_text(&b) {
        return compact(&a).to_lowercase() == compact(&b).to_lowercase();
    }
    if let (Some(x), Some(y)) = (parse_number(&a), parse_number(&b)) {
        return numbers_equal(&x, &y);
    }
    match (split_relation(&a), split_relation(&b)) {
        (None, None) => values_equal(&a, &b),
        (Some((l1, r1, rhs1)), Some((l2, r2, rhs2))) => {
            relations_equal((l1, r1, rhs1), (l2, r2, rhs2))
        }
        _ => false,
    }
}

fn relations_equal(a: (&str, &str, &str), b: (&str, &str, &str)) -> bool {
    let same = a.1 == b.1 && values_equal(a.0, b.0) && values_equal(a.2, b.2);
    let mirrored = |x: &str, y: &str| {
        matches!(
            (x, y),
            ("<", ">") | (">", "<") | ("\\le", "\\ge") | ("\\ge", "\\le")
        )
    };
    let swapped = (a.1 == b.1 && (a.1 == "=" || a.1 == "\\ne") || mirrored(a.1, b.1))
        && values_equal(a.0, b.2)
        && values_equal(a.2, b.0);
    if same || swapped {
        return true;
    }
    // Equations that differ by moving terms: compare lhs - rhs up to sign.
    if a.1 == "=" && b.1 == "=" {
        let short = |s: &str| s.len() <= MAX_EXPR_CHARS;
        let diff = |l: &str, r: &str| {
            if !short(l) || !short(r) {
                return None;
            }
            Some(Expr::Sub(
                Box::new(parse_expr(l).ok()?),
                Box::new(parse_expr(r).ok()?),
            ))
        };
        if let (Some(d1), Some(d2)) = (diff(a.0, a.2), diff(b.0, b.2)) {
            return expressions_equal(&d1, &d2) || expressions_equal(&d1, &Expr::Neg(Box::new(d2)));
        }
    }
    false
}

/// Values as expressions; a percent on one side may be read as itself or divided by 100.
fn values_equal(a: &str, b: &str) -> bool {
    let (a, pa) = strip_percent(a);
    let (b, pb) = strip_percent(b);
    if a.len() > MAX_EXPR_CHARS || b.len() > MAX_EXPR_CHARS {
        return compact(a) == compact(b) && pa == pb;
    }
    let (Ok(x), Ok(y)) = (parse_expr(a), parse_expr(b)) else {
        return compact(a) == compact(b) && pa == pb;
    };
    if pa == pb {
        return expressions_equal(&x, &y);
    }
    let (pct, plain) = if pa { (x, y) } else { (y, x) };
    let hundredth = Expr::Div(
        Box::new(pct.clone()),
        Box::new(Expr::Num(BigRational::from_integer(100.into()))),
    );
    expressions_equal(&pct, &plain) || expressions_equal(&hundredth, &plain)
}

fn strip_percent(s: &str) -> (&str, bool) {
    match s.trim().strip_suffix('%') {
        Some(rest) => (rest.trim_end(), true),
        None => (s.trim(), false),
    }
}

/// True when `extracted` answers `problem`: countdown problems check the expression against
/// their numbers and target, others compare with the gold answer.
pub fn grade_problem(problem: &Problem, extracted: &str) -> bool {
    match problem.countdown_spec() {
        Some((numbers, target)) => countdown_check(extracted, numbers, target),
        None => grade(&problem.answer, extracted),
    }
}

/// A graded response, as `reasoner grade --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GradeOutcome {
    pub task: String,
    pub gold: String,
    pub extracted: Option<String>,
    pub form: Option<AnswerForm>,
    pub correct: bool,
    /// Why a countdown answer failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Extracts the answer from `response` and grades it against `problem`.
pub fn grade_response(problem: &Problem, response: &str) -> GradeOutcome {
    let found = extract(response);
    let (correct, reason) = match (&found, problem.countdown_spec()) {
        (None, _) => (false, None),
        (Some(e), Some((numbers, target))) => match countdown_verify(&e.answer, numbers, target) {
            Ok(()) => (true, None),
            Err(err) => (false, Some(err.to_string())),
        },
        (Some(e), None) => (grade(&problem.answer, &e.answer), None),
    };
    GradeOutcome {
        task: problem.task_name().to_string(),
        gold: problem.answer.clone(),
        extracted: found.as_ref().map(|e| e.answer.clone()),
        form: found.map(|e| e.form),
        correct,
        reason,
    }
}

/// `reasoner grade --gold TEXT --response TEXT [--task NAME]`: with task `countdown` the gold
/// text is `{"numbers":[..],"target":N}` or `19 36 55 7 -> 65`; otherwise it is the answer.
pub fn grade_text(
    gold: &str,
    response: &str,
    task: Option<&str>,
) -> Result<GradeOutcome, TaskError> {
    let task = match task {
        Some(name) => check_task_name(name)?,
        None => "math".to_string(),
    };
    let mut problem = Problem::new("", gold);
    if task == "countdown" {
        let (numbers, target) = parse_countdown_gold(gold)?;
        problem.numbers = Some(numbers);
        problem.target = Some(target);
    }
    problem.task = Some(task);
    Ok(grade_response(&problem, response))
}

/// Countdown numbers and target from `{"numbers":[..],"target":N}` or `19 36 55 7 -> 65`.
pub fn parse_countdown_gold(text: &str) -> Result<(Vec<i64>, i64), TaskError> {
    let bad = || TaskError::BadCountdownGold {
        text: text.to_string(),
    };
    if let Ok(p) = serde_json::from_str::<serde_json::Value>(text) {
        let numbers: Option<Vec<i64>> = p
            .get("numbers")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|n| n.as_i64()).collect());
        let target = p.get("target").and_then(|v| v.as_i64());
        return match (numbers, target) {
            (Some(n), Some(t)) if !n.is_empty() => Ok((n, t)),
            _ => Err(bad()),
        };
    }
    let (left, right) = text
        .split_once("->")
        .or_else(|| text.split_once("=>"))
        .ok_or_else(bad)?;
    let numbers: Result<Vec<i64>, _> = left
        .split(|c: char| c == ',' || c.is_whitespace() || c == '[' || c == ']')
        .filter(|t| !t.is_empty())
        .map(str::parse::<i64>)
        .collect();
    let numbers = numbers.map_err(|_| bad())?;
    let target = right.trim().parse::<i64>().map_err(|_| bad())?;
    if numbers.is_empty() {
        return Err(bad());
    }
    Ok((numbers, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_level() {
        let outcome = grade_text("65", "<think>hmm</think> \\boxed{65.0}", None).unwrap();
        assert!(outcome.correct);
        assert_eq!(outcome.form, Some(AnswerForm::Boxed));
        let cd = grade_text(
            "19 36 55 7 -> 65",
            "<answer>55 + 36 - 19 - 7</answer>",
            Some("countdown"),
        )
        .unwrap();
        assert!(cd.correct, "{cd:?}");
        let cd = grade_text(
            r#"{"numbers":[19,36,55,7],"target":65}"#,
            "\\boxed{55 + 55}",
            Some("countdown"),
        )
        .unwrap();
        assert!(!cd.correct);
        assert!(cd.reason.unwrap().contains("55"));
        assert!(grade_text("1", "1", Some("nope")).is_err());
        assert!(grade_text("1 2 3", "1", Some("countdown")).is_err());
    }
}
