//! A short countdown search written as a trace: combine two numbers at a time, trying first the
//! step whose result lands closest to the target; a try that ends with two numbers that no
//! operation turns into the target is rejected, and the first try that reaches it is the answer.

use super::TraceError;
use std::fmt::Write as _;

/// Rejected tries shown before the one that works; more would make traces too long for a tiny
/// model's context, and the closest-first order usually needs fewer.
const SHOWN_FAILURES: usize = 2;

/// Search states visited before giving up (5 numbers need well under this).
const NODE_BUDGET: usize = 2_000_000;

#[derive(Debug, Clone)]
struct Item {
    value: i64,
    text: String,
    atom: bool,
}

impl Item {
    fn wrapped(&self) -> String {
        if self.atom { self.text.clone() } else { format!("({})", self.text) }
    }
}

/// One step: `left op right = value`, with left ≥ right.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    left: i64,
    op: char,
    right: i64,
    value: i64,
}

impl Step {
    fn text(&self) -> String {
        format!("{} {} {} = {}", self.left, self.op, self.right, self.value)
    }
}

/// What the search found: the rejected tries (as written) and the working one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountdownSearch {
    /// Every rejected try, in the order tried: its steps, ending with the closest last step.
    pub rejected: Vec<String>,
    /// The steps of the try that reaches the target.
    pub found: String,
    /// The answer expression, e.g. `((55 + 36) - 19) - 7`.
    pub expression: String,
}

/// The step candidates for two values, closest result to `target` first.
fn steps_for(a: i64, b: i64) -> Vec<Step> {
    let (x, y) = if a >= b { (a, b) } else { (b, a) };
    let mut out = vec![Step { left: x, op: '+', right: y, value: x + y }];
    if x > y {
        out.push(Step { left: x, op: '-', right: y, value: x - y });
    }
    if y > 1 {
        out.push(Step { left: x, op: '*', right: y, value: x * y });
        if x % y == 0 {
            out.push(Step { left: x, op: '/', right: y, value: x / y });
        }
    }
    out
}

struct Searcher {
    target: i64,
    rejected: Vec<String>,
    nodes: usize,
}

impl Searcher {
    /// Depth-first over pair merges; `path` holds the steps so far.
    fn run(&mut self, items: &[Item], path: &mut Vec<Step>) -> Option<(Vec<Step>, String)> {
        self.nodes += 1;
        if self.nodes > NODE_BUDGET {
            return None;
        }
        let mut moves = Vec::new();
        for i in 0..items.len() {
            for j in i + 1..items.len() {
                for step in steps_for(items[i].value, items[j].value) {
                    moves.push((i, j, step));
                }
            }
        }
        moves.sort_by_key(|(i, j, s)| ((s.value - self.target).abs(), *i, *j));
        if items.len() == 2 {
            // The last pair: take the closest step; it either hits or the try is rejected.
            let (i, j, step) = moves.into_iter().next()?;
            path.push(step.clone());
            let result = if step.value == self.target {
                Some((path.clone(), merge(&items[i], &items[j], &step).text))
            } else {
                self.rejected.push(path_text(path));
                None
            };
            path.pop();
            return result;
        }
        for (i, j, step) in moves {
            let merged = merge(&items[i], &items[j], &step);
            path.push(step.clone());
            if step.value == self.target {
                return Some((path.clone(), merged.text));
            }
            let mut rest: Vec<Item> =
                items.iter().enumerate().filter(|(k, _)| *k != i && *k != j).map(|(_, it)| it.clone()).collect();
            rest.push(merged);
            if let Some(found) = self.run(&rest, path) {
                return Some(found);
            }
            path.pop();
        }
        None
    }
}

fn merge(a: &Item, b: &Item, step: &Step) -> Item {
    // The step writes the larger value first; keep the expression in the same order.
    let (l, r) = if a.value >= b.value { (a, b) } else { (b, a) };
    Item { value: step.value, text: format!("{} {} {}", l.wrapped(), step.op, r.wrapped()), atom: false }
}

fn path_text(path: &[Step]) -> String {
    path.iter().map(Step::text).collect::<Vec<_>>().join(", ")
}

/// Searches for a way to make `target` from `numbers` (each at most once, + − × ÷ with positive
/// whole intermediate results).
pub fn search_countdown(numbers: &[i64], target: i64) -> Option<CountdownSearch> {
    if let Some(n) = numbers.iter().find(|&&n| n == target) {
        return Some(CountdownSearch {
            rejected: Vec::new(),
            found: format!("{n} is already one of the numbers"),
            expression: n.to_string(),
        });
    }
    if numbers.iter().any(|&n| n <= 0) || numbers.len() < 2 {
        return None;
    }
    let items: Vec<Item> = numbers.iter().map(|&n| Item { value: n, text: n.to_string(), atom: true }).collect();
    let mut s = Searcher { target, rejected: Vec::new(), nodes: 0 };
    let (steps, expression) = s.run(&items, &mut Vec::new())?;
    Some(CountdownSearch { rejected: s.rejected, found: path_text(&steps), expression })
}

pub(super) fn countdown_trace(numbers: &[i64], target: i64) -> Result<(String, String), TraceError> {
    let too_big = numbers.len() > 6 || numbers.iter().chain([&target]).any(|n| n.abs() > 100_000);
    if too_big {
        return Err(TraceError::Unsupported {
            task: "countdown".into(),
            what: format!("numbers {numbers:?} with target {target}"),
        });
    }
    let found = search_countdown(numbers, target)
        .ok_or_else(|| TraceError::NoCountdownSolution { numbers: numbers.to_vec(), target })?;
    let list = numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let mut t = format!("Numbers {list}; target {target}. Combine two numbers at a time.\n");
    for tried in found.rejected.iter().take(SHOWN_FAILURES) {
        let last = tried.rsplit(" = ").next().unwrap_or_default();
        let _ = writeln!(t, "Try {tried}. {last} is not {target}.");
    }
    let _ = writeln!(t, "Try {}. That is {target}.", found.found);
    let _ = write!(t, "So {} = {target}.", found.expression);
    Ok((t, format!("\\boxed{{{}}}", found.expression)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::countdown::countdown_check;

    #[test]
    fn finds_and_rejects() {
        let s = search_countdown(&[19, 36, 55, 7], 65).unwrap();
        assert!(countdown_check(&s.expression, &[19, 36, 55, 7], 65), "{s:?}");
        let s = search_countdown(&[4, 25, 3], 100).unwrap();
        assert_eq!(s.expression, "25 * 4");
        assert!(s.rejected.is_empty());
        // The closest first step (5 + 3 = 8) leads nowhere; 5 * 3 - 8 does.
        let (t, ans) = countdown_trace(&[3, 5, 8], 7).unwrap();
        assert!(t.contains("Try 5 + 3 = 8, 8 / 8 = 1. 1 is not 7."), "{t}");
        let expr = ans.trim_start_matches("\\boxed{").trim_end_matches('}');
        assert!(countdown_check(expr, &[3, 5, 8], 7), "{t}");
        assert!(search_countdown(&[2, 2], 7).is_none());
        assert!(countdown_trace(&[1, 1], 99).is_err());
    }
}
