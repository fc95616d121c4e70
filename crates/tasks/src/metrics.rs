//! Evaluation metrics over K sampled responses per item: per-item correctness, pass@1 averaged
//! over the K samples, cons@K (majority vote where equivalent answers vote together), mean
//! response and thinking lengths, overall and per (task, difficulty).

use crate::countdown::{countdown_value, countdown_verify};
use crate::extract::{extract_from_content, split_thinking};
use crate::grade::{grade, grade_problem};
use crate::problem::Problem;
use crate::rewards::estimate_tokens;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One sampled response with its token counts from the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampledResponse {
    pub text: String,
    /// Completion tokens, thinking included.
    pub tokens: usize,
    /// Tokens of the thinking part.
    pub think_tokens: usize,
}

impl SampledResponse {
    /// When no tokenizer is at hand: counts estimated at about 4 characters per token.
    pub fn from_text(text: impl Into<String>) -> Self {
        let text = text.into();
        let think_tokens = split_thinking(&text).thinking.map_or(0, estimate_tokens);
        Self { tokens: estimate_tokens(&text), think_tokens, text }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleResult {
    pub response: String,
    pub extracted: Option<String>,
    pub correct: bool,
    pub tokens: usize,
    pub think_tokens: usize,
}

/// Per-item results: one JSONL line of `eval`'s per-item output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    pub index: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<u8>,
    pub prompt: String,
    pub gold: String,
    /// Correct samples out of `samples.len()`.
    pub n_correct: usize,
    pub pass_at_1: f64,
    /// The answer with the most votes (ties go to the one seen first).
    pub majority_answer: Option<String>,
    pub cons_correct: bool,
    pub samples: Vec<SampleResult>,
}

/// The summary `reasoner eval --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    pub task: String,
    pub n: usize,
    pub samples: usize,
    pub pass_at_1: f64,
    pub cons_at_k: f64,
    pub mean_tokens: f64,
    pub mean_think_tokens: f64,
}

/// A summary row for one (task, difficulty) group, for tables and plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub task: String,
    pub difficulty: Option<u8>,
    pub summary: EvalSummary,
}

/// Grades one sample of `problem`.
pub fn grade_sample(problem: &Problem, response: &SampledResponse) -> SampleResult {
    let extracted = split_thinking(&response.text).content.and_then(extract_from_content).map(|e| e.answer);
    let correct = extracted.as_deref().is_some_and(|a| grade_problem(problem, a));
    SampleResult {
        response: response.text.clone(),
        extracted,
        correct,
        tokens: response.tokens,
        think_tokens: response.think_tokens,
    }
}

/// Grades the K `responses` to item `index` and takes the majority vote.
pub fn evaluate_item(index: usize, problem: &Problem, responses: &[SampledResponse]) -> ItemResult {
    let samples: Vec<SampleResult> = responses.iter().map(|r| grade_sample(problem, r)).collect();
    let n_correct = samples.iter().filter(|s| s.correct).count();
    let pass_at_1 = if samples.is_empty() { 0.0 } else { n_correct as f64 / samples.len() as f64 };
    let vote = majority_vote(problem, &samples);
    ItemResult {
        index,
        id: problem.id.clone(),
        task: problem.task_name().to_string(),
        difficulty: problem.difficulty,
        prompt: problem.prompt.clone(),
        gold: problem.answer.clone(),
        n_correct,
        pass_at_1,
        cons_correct: vote.as_ref().is_some_and(|v| v.1),
        majority_answer: vote.map(|v| v.0),
        samples,
    }
}

/// A voting class key for countdown: every valid expression is the same (correct) answer;
/// invalid ones group by their exact value, else by their text.
fn countdown_key(problem: &Problem, answer: &str) -> String {
    let Some((numbers, target)) = problem.countdown_spec() else {
        return answer.to_string();
    };
    if countdown_verify(answer, numbers, target).is_ok() {
        return "valid".into();
    }
    match countdown_value(answer, numbers, None) {
        Ok(v) => format!("value:{v}"),
        Err(_) => format!("text:{}", answer.split_whitespace().collect::<String>()),
    }
}

/// (answer, correct) with the most votes among samples that have an answer.
fn majority_vote(problem: &Problem, samples: &[SampleResult]) -> Option<(String, bool)> {
    struct Class {
        answer: String,
        key: String,
        votes: usize,
        correct: bool,
    }
    let mut classes: Vec<Class> = Vec::new();
    let countdown = problem.countdown_spec().is_some();
    for s in samples {
        let Some(answer) = &s.extracted else { continue };
        let key = if countdown { countdown_key(problem, answer) } else { String::new() };
        let same = classes.iter_mut().find(|c| if countdown { c.key == key } else { grade(&c.answer, answer) });
        match same {
            Some(c) => c.votes += 1,
            None => classes.push(Class { answer: answer.clone(), key, votes: 1, correct: s.correct }),
        }
    }
    // max_by_key keeps the last maximum; reverse so the first-seen class wins ties.
    let best = classes.into_iter().rev().max_by_key(|c| c.votes)?;
    Some((best.answer, best.correct))
}

/// Per-item results for a whole run: `responses[i]` holds the K samples for `problems[i]`
/// (items past the shorter of the two are left out).
pub fn evaluate_all(problems: &[Problem], responses: &[Vec<SampledResponse>]) -> Vec<ItemResult> {
    problems.iter().zip(responses).enumerate().map(|(i, (p, r))| evaluate_item(i, p, r)).collect()
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// Overall summary of `items` under the name `task`.
pub fn summarize(task: &str, items: &[ItemResult]) -> EvalSummary {
    let all_samples = || items.iter().flat_map(|i| i.samples.iter());
    EvalSummary {
        task: task.to_string(),
        n: items.len(),
        samples: items.iter().map(|i| i.samples.len()).max().unwrap_or(0),
        pass_at_1: mean(items.iter().map(|i| i.pass_at_1)),
        cons_at_k: mean(items.iter().map(|i| if i.cons_correct { 1.0 } else { 0.0 })),
        mean_tokens: mean(all_samples().map(|s| s.tokens as f64)),
        mean_think_tokens: mean(all_samples().map(|s| s.think_tokens as f64)),
    }
}

/// One summary per (task, difficulty), sorted by task then difficulty.
pub fn summarize_groups(items: &[ItemResult]) -> Vec<GroupSummary> {
    let mut groups: BTreeMap<(String, Option<u8>), Vec<ItemResult>> = BTreeMap::new();
    for item in items {
        groups.entry((item.task.clone(), item.difficulty)).or_default().push(item.clone());
    }
    groups
        .into_iter()
        .map(|((task, difficulty), members)| GroupSummary { summary: summarize(&task, &members), task, difficulty })
        .collect()
}

/// The unbiased pass@k estimate from `n` samples with `c` correct (Chen et al. 2021).
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    if k == 0 || n < k {
        return 0.0;
    }
    if n - c < k {
        return 1.0;
    }
    1.0 - ((n - c + 1)..=n).fold(1.0, |acc, i| acc * (1.0 - k as f64 / i as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responses(texts: &[&str]) -> Vec<SampledResponse> {
        texts.iter().map(|t| SampledResponse::from_text(*t)).collect()
    }

    #[test]
    fn pass_and_consensus() {
        let p = Problem::new("q", "\\frac{1}{2}");
        let item = evaluate_item(
            0,
            &p,
            &responses(&[
                "</think>\\boxed{0.5}",
                "</think>\\boxed{3}",
                "</think>\\boxed{1/2}",
                "</think>\\boxed{3}",
                "</think>\\boxed{\\dfrac12}",
                "<think>never closed \\boxed{1/2}",
            ]),
        );
        assert_eq!(item.n_correct, 3);
        assert!((item.pass_at_1 - 0.5).abs() < 1e-12);
        // 0.5, 1/2 and \dfrac12 vote together (3) against 3 (2).
        assert!(item.cons_correct);
        assert_eq!(item.majority_answer.as_deref(), Some("0.5"));
        let item = evaluate_item(1, &p, &responses(&["</think>\\boxed{3}", "</think>\\boxed{0.5}"]));
        assert!(!item.cons_correct, "tie goes to the first seen");
        let none = evaluate_item(2, &p, &responses(&["<think>..."]));
        assert_eq!((none.majority_answer, none.cons_correct), (None, false));
    }

    #[test]
    fn countdown_votes_by_validity() {
        let mut p = Problem::new("q", "1 + 3");
        p.numbers = Some(vec![1, 3, 4]);
        p.target = Some(4);
        let item = evaluate_item(
            0,
            &p,
            &responses(&[
                "</think><answer>1 + 1 + 1 + 1</answer>",
                "</think><answer>1 + 3</answer>",
                "</think><answer>4</answer>",
            ]),
        );
        assert_eq!(item.n_correct, 2);
        assert!(item.cons_correct);
    }

    #[test]
    fn summaries() {
        let mut a = Problem::new("q", "1");
        a.task = Some("add".into());
        a.difficulty = Some(1);
        let mut b = a.clone();
        b.difficulty = Some(2);
        let items = vec![
            evaluate_item(
                0,
                &a,
                &[SampledResponse { text: "<think>ab</think>\\boxed{1}".into(), tokens: 10, think_tokens: 4 }],
            ),
            evaluate_item(1, &b, &[SampledResponse { text: "\\boxed{2}".into(), tokens: 20, think_tokens: 0 }]),
        ];
        let s = summarize("add", &items);
        assert_eq!(
            (s.n, s.samples, s.pass_at_1, s.cons_at_k, s.mean_tokens, s.mean_think_tokens),
            (2, 1, 0.5, 0.5, 15.0, 2.0)
        );
        let json = serde_json::to_value(&s).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 7);
        for k in ["task", "n", "samples", "pass_at_1", "cons_at_k", "mean_tokens", "mean_think_tokens"] {
            assert!(json.get(k).is_some(), "{k}");
        }
        let groups = summarize_groups(&items);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1].difficulty, Some(2));
    }

    #[test]
    fn pass_at_k_estimator() {
        assert!((pass_at_k(4, 2, 1) - 0.5).abs() < 1e-12);
        assert_eq!(pass_at_k(4, 4, 2), 1.0);
        assert_eq!(pass_at_k(4, 0, 2), 0.0);
        assert!((pass_at_k(4, 1, 2) - 0.5).abs() < 1e-12);
    }
}
