//! Programmatic solvers that write worked solutions in DeepSeek-R1's format
//! (`<think>\n…steps…\n</think>\n\n…\boxed{N}`) for cold-start SFT: one local, mechanical step
//! per line, so a model of a few million parameters can learn to imitate them.

mod arithmetic;
mod countdown_search;
mod linear;

pub use countdown_search::{CountdownSearch, search_countdown};

use crate::problem::Problem;
use serde::{Deserialize, Serialize};

/// The mathematical content of a problem, independent of how its prompt is phrased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "lowercase")]
pub enum Spec {
    Add {
        a: i64,
        b: i64,
    },
    Sub {
        a: i64,
        b: i64,
    },
    Mul {
        a: i64,
        b: i64,
    },
    /// `a x + b = c`.
    Linear {
        a: i64,
        b: i64,
        c: i64,
    },
    Countdown {
        numbers: Vec<i64>,
        target: i64,
    },
}

/// Why no worked solution can be written for a problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    #[error("task '{task}' has no trace solver (known: add, sub, mul, linear, countdown)")]
    UnknownTask { task: String },
    #[error("cannot read a {task} problem from prompt '{prompt}'")]
    Unparsed { task: String, prompt: String },
    #[error("{what} is outside what the {task} solver handles")]
    Unsupported { task: String, what: String },
    #[error("countdown numbers {numbers:?} cannot reach {target}")]
    NoCountdownSolution { numbers: Vec<i64>, target: i64 },
}

impl Spec {
    /// Reads the spec from a problem worded as the tasks crate's generators word it ("What is
    /// 347 + 589?", "Solve for x: 3x + 2 = 11.", countdown's `numbers`/`target`) or in one of
    /// the alternative wordings of [`crate::phrasing`]; R1's instruction after a blank line is
    /// ignored.
    pub fn from_problem(problem: &Problem) -> Result<Spec, TraceError> {
        Self::from_canonical(problem).or_else(|err| {
            let question = problem.prompt.split("\n\n").next().unwrap_or_default();
            crate::phrasing::spec_from_wording(problem.task_name(), question).ok_or(err)
        })
    }

    fn from_canonical(problem: &Problem) -> Result<Spec, TraceError> {
        let task = problem.task_name().to_string();
        let unparsed = || TraceError::Unparsed { task: task.clone(), prompt: problem.prompt.clone() };
        match task.as_str() {
            "add" | "sub" | "mul" => {
                let op = match task.as_str() {
                    "add" => " + ",
                    "sub" => " - ",
                    _ => " * ",
                };
                let body = problem
                    .prompt
                    .trim()
                    .strip_prefix("What is ")
                    .and_then(|s| s.strip_suffix('?'))
                    .ok_or_else(unparsed)?;
                let (a, b) = body.split_once(op).ok_or_else(unparsed)?;
                let a: i64 = a.trim().parse().map_err(|_| unparsed())?;
                let b: i64 = b.trim().parse().map_err(|_| unparsed())?;
                Ok(match task.as_str() {
                    "add" => Spec::Add { a, b },
                    "sub" => Spec::Sub { a, b },
                    _ => Spec::Mul { a, b },
                })
            }
            "linear" => {
                let eq = problem
                    .prompt
                    .trim()
                    .strip_prefix("Solve for x: ")
                    .and_then(|s| s.strip_suffix('.'))
                    .ok_or_else(unparsed)?;
                let (lhs, rhs) = eq.split_once(" = ").ok_or_else(unparsed)?;
                let (a_text, rest) = lhs.split_once('x').ok_or_else(unparsed)?;
                let a: i64 = a_text.trim().parse().map_err(|_| unparsed())?;
                let b: i64 = match rest.trim() {
                    "" => 0,
                    r => {
                        let (sign, num) = r.split_at(1);
                        let v: i64 = num.trim().parse().map_err(|_| unparsed())?;
                        if sign == "-" { -v } else { v }
                    }
                };
                let c: i64 = rhs.trim().parse().map_err(|_| unparsed())?;
                Ok(Spec::Linear { a, b, c })
            }
            "countdown" => {
                let (numbers, target) = problem.countdown_spec().ok_or_else(unparsed)?;
                Ok(Spec::Countdown { numbers: numbers.to_vec(), target })
            }
            _ => Err(TraceError::UnknownTask { task }),
        }
    }

    pub fn task(&self) -> &'static str {
        match self {
            Spec::Add { .. } => "add",
            Spec::Sub { .. } => "sub",
            Spec::Mul { .. } => "mul",
            Spec::Linear { .. } => "linear",
            Spec::Countdown { .. } => "countdown",
        }
    }

    /// A key that names the problem's content whatever its phrasing; sums and products are
    /// keyed without operand order, countdown by its sorted numbers, so swapped operands count
    /// as the same problem when checking that training and evaluation sets are disjoint.
    pub fn key(&self) -> String {
        match self {
            Spec::Add { a, b } => format!("add:{}:{}", a.min(b), a.max(b)),
            Spec::Sub { a, b } => format!("sub:{a}:{b}"),
            Spec::Mul { a, b } => format!("mul:{}:{}", a.min(b), a.max(b)),
            Spec::Linear { a, b, c } => format!("linear:{a}:{b}:{c}"),
            Spec::Countdown { numbers, target } => {
                let mut sorted = numbers.clone();
                sorted.sort_unstable();
                format!("countdown:{sorted:?}:{target}")
            }
        }
    }
}

/// The worked solution for `problem`, in R1's format (the text the assistant writes, starting
/// with `<think>\n`).
pub fn solve(problem: &Problem) -> Result<String, TraceError> {
    solve_spec(&Spec::from_problem(problem)?)
}

/// The worked solution for a spec.
pub fn solve_spec(spec: &Spec) -> Result<String, TraceError> {
    let (think, answer) = match spec {
        Spec::Add { a, b } => arithmetic::addition(*a, *b)?,
        Spec::Sub { a, b } => arithmetic::subtraction(*a, *b)?,
        Spec::Mul { a, b } => arithmetic::multiplication(*a, *b)?,
        Spec::Linear { a, b, c } => linear::solve_linear(*a, *b, *c)?,
        Spec::Countdown { numbers, target } => countdown_search::countdown_trace(numbers, *target)?,
    };
    Ok(r1_format(&think, &answer))
}

/// `<think>\n{think}\n</think>\n\n{answer}`: R1's layout, where the chat template's generation
/// prompt already holds the opening `<think>\n`.
pub fn r1_format(think: &str, answer: &str) -> String {
    format!("<think>\n{}\n</think>\n\n{}", think.trim_end(), answer.trim())
}
