//! The math grader: is an extracted answer equal to the gold one? LaTeX is lexed
//! (`lexer`), parsed into an answer tree (`parser`: lists, relations, intervals, sets,
//! matrices, expressions) and compared (`compare`, `expr`): exact rationals where the values
//! are rational, else evaluation at random points. Also the problem-level entry points.

pub mod compare;
pub mod expr;
pub mod lexer;
pub mod parser;

use crate::countdown::{countdown_check, countdown_verify};
use crate::extract::{AnswerForm, extract, extract_from_content};
use crate::problem::{Problem, TaskError, check_task_name};
use serde::{Deserialize, Serialize};

/// Answers longer than this are not math answers: they are compared as text, which keeps
/// degenerate outputs cheap.
const MAX_ANSWER_CHARS: usize = 2000;

/// True when `extracted` is mathematically the same answer as `gold`. A gold answer written
/// with math delimiters (`$…$`, `\boxed{…}`) or as a whole solution is extracted first, as
/// Math-Verify parses its gold.
pub fn grade(gold: &str, extracted: &str) -> bool {
    let gold = answer_of(gold, true);
    let extracted = answer_of(extracted, false);
    let extracted = extracted.as_str();
    if gold.is_empty() || extracted.is_empty() {
        return false;
    }
    if gold.len() > MAX_ANSWER_CHARS || extracted.len() > MAX_ANSWER_CHARS {
        return compact(&gold) == compact(extracted);
    }
    match (parser::parse(&gold), parser::parse(extracted)) {
        (Ok(g), Ok(e)) => compare::answers_equal(&g, &e),
        // Unparsed answers (`\sum`, `\int`, prose) match only when their tokens do.
        _ => match (parser::canonical(&gold), parser::canonical(extracted)) {
            (Some(g), Some(e)) => g == e,
            _ => compact(&gold) == compact(extracted),
        },
    }
}

/// The answer inside a string that carries delimiters; a plain one as it is, except that a
/// plain gold number is read as Math-Verify reads one.
fn answer_of(text: &str, gold: bool) -> String {
    let g = text.trim();
    // A gold string may be a whole solution; an extracted answer is unwrapped only when it is
    // itself wrapped (`$42$`, `\boxed{42}`).
    const DELIMITERS: [&str; 5] = ["$", "\\(", "\\[", "\\boxed", "\\fbox"];
    let delimited =
        if gold { DELIMITERS.iter().any(|d| g.contains(d)) } else { DELIMITERS.iter().any(|d| g.starts_with(d)) };
    if delimited && let Some(e) = extract_from_content(g) {
        return e.answer;
    }
    // A bare number reads as Math-Verify reads one (`1,22` has a decimal comma, `1 000` is
    // a thousand); `1, 2` is a list.
    let one_number = gold && g.chars().all(|c| c.is_ascii_digit() || " ,.-%".contains(c)) && !g.contains(", ");
    if one_number && let Some(e) = extract_from_content(g) {
        return e.answer;
    }
    g.to_string()
}

fn compact(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
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
pub fn grade_text(gold: &str, response: &str, task: Option<&str>) -> Result<GradeOutcome, TaskError> {
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
    let bad = || TaskError::BadCountdownGold { text: text.to_string() };
    if let Ok(p) = serde_json::from_str::<serde_json::Value>(text) {
        let numbers: Option<Vec<i64>> =
            p.get("numbers").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|n| n.as_i64()).collect());
        let target = p.get("target").and_then(|v| v.as_i64());
        return match (numbers, target) {
            (Some(n), Some(t)) if !n.is_empty() => Ok((n, t)),
            _ => Err(bad()),
        };
    }
    let (left, right) = text.split_once("->").or_else(|| text.split_once("=>")).ok_or_else(bad)?;
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
        let cd = grade_text("19 36 55 7 -> 65", "<answer>55 + 36 - 19 - 7</answer>", Some("countdown")).unwrap();
        assert!(cd.correct, "{cd:?}");
        let cd = grade_text(r#"{"numbers":[19,36,55,7],"target":65}"#, "\\boxed{55 + 55}", Some("countdown")).unwrap();
        assert!(!cd.correct);
        assert!(cd.reason.unwrap().contains("55"));
        assert!(grade_text("1", "1", Some("nope")).is_err());
        assert!(grade_text("1 2 3", "1", Some("countdown")).is_err());
    }
}
