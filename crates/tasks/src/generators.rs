//! Seeded generators for the synthetic tasks: `add`, `sub`, `mul`, `linear`, `countdown` (in
//! countdown.rs) and `mixed`. Problem i depends only on (seed, task, i), so prefixes of a
//! generated set are stable and sets can be regenerated anywhere from their seed.

use crate::countdown;
use crate::problem::{Problem, TaskError, TaskKind};
use crate::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Difficulty levels run from 1 (easiest) to 5.
pub const MAX_DIFFICULTY: u8 = 5;

/// Settings for a generated set.
///
/// What a level means per task:
/// - `add` / `sub`: operands with 1, 2, 3, 5, 8 digits (or `digits` when given, 1..=18);
///   `sub` gives negative results from level 3 on.
/// - `mul`: 1×1, 2×1, 2×2, 3×2, 3×3 digits (`digits` d gives d×d, at most 3).
/// - `linear`: larger coefficients and signs with each level (x is always an integer).
/// - `countdown`: 3 numbers ≤ 20, 3 ≤ 50, 4 ≤ 50, 4 ≤ 100, 5 ≤ 100.
/// - `mixed`: each problem picks one of the five tasks above, at the same level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenOptions {
    pub seed: u64,
    pub difficulty: u8,
    pub digits: Option<u32>,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self { seed: 0, difficulty: 2, digits: None }
    }
}

impl GenOptions {
    fn validate(&self) -> Result<(), TaskError> {
        if !(1..=MAX_DIFFICULTY).contains(&self.difficulty) {
            return Err(TaskError::BadDifficulty { level: self.difficulty });
        }
        if let Some(d) = self.digits
            && !(1..=18).contains(&d)
        {
            return Err(TaskError::BadDigits { digits: d });
        }
        Ok(())
    }
}

/// `n` problems of `task`, deterministic for `opts`.
pub fn generate(task: TaskKind, n: usize, opts: &GenOptions) -> Result<Vec<Problem>, TaskError> {
    opts.validate()?;
    Ok((0..n).map(|i| make_problem(task, i as u64, opts)).collect())
}

/// `n` problems of the task called `name` (for `--task NAME`); unknown names list the known ones.
pub fn generate_named(name: &str, n: usize, opts: &GenOptions) -> Result<Vec<Problem>, TaskError> {
    generate(crate::problem::task_by_name(name)?, n, opts)
}

/// Problem number `index` of the set `generate(task, _, opts)` would make.
pub fn generate_one(task: TaskKind, index: u64, opts: &GenOptions) -> Result<Problem, TaskError> {
    opts.validate()?;
    Ok(make_problem(task, index, opts))
}

fn task_salt(task: TaskKind) -> u64 {
    // Fixed per task so `add` and `sub` with one seed are not the same numbers.
    match task {
        TaskKind::Add => 1,
        TaskKind::Sub => 2,
        TaskKind::Mul => 3,
        TaskKind::Linear => 4,
        TaskKind::Countdown => 5,
        TaskKind::Mixed => 6,
    }
}

fn make_problem(task: TaskKind, index: u64, opts: &GenOptions) -> Problem {
    let mut rng = SplitMix64::for_item(opts.seed, task_salt(task), index);
    let level = opts.difficulty;
    let concrete = match task {
        TaskKind::Mixed => {
            *rng.pick(&[TaskKind::Add, TaskKind::Sub, TaskKind::Mul, TaskKind::Linear, TaskKind::Countdown])
        }
        other => other,
    };
    let mut problem = match concrete {
        TaskKind::Add => addition(&mut rng, add_digits(level, opts.digits)),
        TaskKind::Sub => subtraction(&mut rng, add_digits(level, opts.digits), level >= 3),
        TaskKind::Mul => {
            let (a, b) = mul_digits(level, opts.digits);
            multiplication(&mut rng, a, b)
        }
        TaskKind::Linear => linear(&mut rng, level),
        TaskKind::Countdown | TaskKind::Mixed => countdown::generate_countdown(&mut rng, level),
    };
    problem.task = Some(concrete.name().to_string());
    problem.difficulty = Some(level);
    problem.id = Some(format!("{}-{}-{}", task.name(), opts.seed, index));
    problem
}

fn add_digits(level: u8, digits: Option<u32>) -> u32 {
    digits.unwrap_or(match level {
        1 => 1,
        2 => 2,
        3 => 3,
        4 => 5,
        _ => 8,
    })
}

fn mul_digits(level: u8, digits: Option<u32>) -> (u32, u32) {
    if let Some(d) = digits {
        let d = d.min(3);
        return (d, d);
    }
    match level {
        1 => (1, 1),
        2 => (2, 1),
        3 => (2, 2),
        4 => (3, 2),
        _ => (3, 3),
    }
}

/// A number with exactly `digits` digits (1-digit numbers are 1..=9).
fn with_digits(rng: &mut SplitMix64, digits: u32) -> i64 {
    let lo = 10i64.pow(digits - 1);
    let hi = 10i64.pow(digits) - 1;
    rng.range_i64(lo, hi)
}

fn addition(rng: &mut SplitMix64, digits: u32) -> Problem {
    let a = with_digits(rng, digits);
    let b = with_digits(rng, digits);
    Problem::new(format!("What is {a} + {b}?"), (a as i128 + b as i128).to_string())
}

fn subtraction(rng: &mut SplitMix64, digits: u32, allow_negative: bool) -> Problem {
    let mut a = with_digits(rng, digits);
    let mut b = with_digits(rng, digits);
    if !allow_negative && a < b {
        std::mem::swap(&mut a, &mut b);
    }
    Problem::new(format!("What is {a} - {b}?"), (a as i128 - b as i128).to_string())
}

fn multiplication(rng: &mut SplitMix64, a_digits: u32, b_digits: u32) -> Problem {
    let a = with_digits(rng, a_digits);
    let b = with_digits(rng, b_digits);
    Problem::new(format!("What is {a} * {b}?"), (a * b).to_string())
}

/// Solve `a x + b = c`: pick integer a, x, b, then c follows.
fn linear(rng: &mut SplitMix64, level: u8) -> Problem {
    // (max |a|, max |x|, max |b|, negatives allowed)
    let (a_max, x_max, b_max, negative) = match level {
        1 => (5, 10, 10, false),
        2 => (9, 10, 20, true),
        3 => (12, 50, 100, true),
        4 => (25, 100, 500, true),
        _ => (99, 999, 9999, true),
    };
    let a_lo = if negative { -a_max } else { 2 };
    let a = loop {
        let a = rng.range_i64(a_lo, a_max);
        // 0 has no solution and ±1 makes the problem trivial.
        if a.abs() >= 2 {
            break a;
        }
    };
    let x = rng.range_i64(if negative { -x_max } else { 0 }, x_max);
    let b = rng.range_i64(if negative { -b_max } else { 1 }, b_max);
    let c = a * x + b;
    let left = match b {
        0 => format!("{a}x"),
        b if b < 0 => format!("{a}x - {}", -b),
        b => format!("{a}x + {b}"),
    };
    Problem::new(format!("Solve for x: {left} = {c}."), x.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(seed: u64, difficulty: u8) -> GenOptions {
        GenOptions { seed, difficulty, digits: None }
    }

    #[test]
    fn deterministic_and_prefix_stable() {
        for task in TaskKind::ALL {
            let a = generate(task, 20, &opts(42, 3)).unwrap();
            let b = generate(task, 20, &opts(42, 3)).unwrap();
            let c = generate(task, 5, &opts(42, 3)).unwrap();
            assert_eq!(a, b);
            assert_eq!(&a[..5], &c[..]);
            let other = generate(task, 20, &opts(43, 3)).unwrap();
            assert_ne!(a, other, "{task}");
        }
    }

    #[test]
    fn arithmetic_answers_are_right() {
        for level in 1..=5 {
            for p in generate(TaskKind::Add, 50, &opts(1, level)).unwrap() {
                let rest = p.prompt.trim_start_matches("What is ").trim_end_matches('?');
                let (a, b) = rest.split_once(" + ").unwrap();
                let sum = a.parse::<i128>().unwrap() + b.parse::<i128>().unwrap();
                assert_eq!(p.answer, sum.to_string());
            }
            for p in generate(TaskKind::Mul, 50, &opts(1, level)).unwrap() {
                let rest = p.prompt.trim_start_matches("What is ").trim_end_matches('?');
                let (a, b) = rest.split_once(" * ").unwrap();
                assert!(a.len() <= 3 && b.len() <= 3);
                let prod = a.parse::<i64>().unwrap() * b.parse::<i64>().unwrap();
                assert_eq!(p.answer, prod.to_string());
            }
        }
        let sub = generate(TaskKind::Sub, 100, &opts(3, 1)).unwrap();
        assert!(sub.iter().all(|p| !p.answer.starts_with('-')));
    }

    #[test]
    fn linear_solution_checks() {
        for level in 1..=5 {
            for p in generate(TaskKind::Linear, 50, &opts(9, level)).unwrap() {
                let eq = p.prompt.trim_start_matches("Solve for x: ").trim_end_matches('.');
                let (lhs, rhs) = eq.split_once(" = ").unwrap();
                let x: i64 = p.answer.parse().unwrap();
                let (a_text, rest) = lhs.split_once('x').unwrap();
                let a: i64 = a_text.parse().unwrap();
                let b: i64 = match rest.trim() {
                    "" => 0,
                    r if r.starts_with("+ ") => r[2..].parse().unwrap(),
                    r => -r[2..].parse::<i64>().unwrap(),
                };
                assert_eq!(a * x + b, rhs.parse::<i64>().unwrap(), "{}", p.prompt);
            }
        }
    }

    #[test]
    fn digits_override_and_validation() {
        let o = GenOptions { seed: 5, difficulty: 1, digits: Some(12) };
        let p = generate_one(TaskKind::Add, 0, &o).unwrap();
        assert!(p.prompt.contains(char::is_numeric));
        let a = p.prompt.split_whitespace().nth(2).unwrap();
        assert_eq!(a.len(), 12);
        assert!(generate(TaskKind::Add, 1, &opts(0, 0)).is_err());
        assert_eq!(generate_named("MUL", 3, &o).unwrap().len(), 3);
        assert!(generate_named("div", 3, &o).unwrap_err().to_string().contains("known tasks"));
        assert!(generate(TaskKind::Add, 1, &GenOptions { digits: Some(19), ..o }).is_err());
    }

    #[test]
    fn mixed_records_concrete_tasks() {
        let set = generate(TaskKind::Mixed, 60, &opts(11, 2)).unwrap();
        let names: std::collections::BTreeSet<_> = set.iter().map(|p| p.task_name()).collect();
        assert!(names.len() >= 4, "{names:?}");
        assert!(!names.contains("mixed"));
    }

    #[test]
    fn prompt_shapes() {
        let p = generate_one(TaskKind::Add, 0, &opts(0, 3)).unwrap();
        assert!(p.prompt.starts_with("What is ") && p.prompt.ends_with('?'));
        let l = generate_one(TaskKind::Linear, 0, &opts(0, 3)).unwrap();
        assert!(l.prompt.starts_with("Solve for x: ") && l.prompt.ends_with('.'));
    }
}
