//! Rewards for GRPO: accuracy (1/0 from the grader), format (thinking closed before the answer,
//! answer in the expected form) and an optional length penalty (DAPO's soft overlong punishment
//! or a linear per-token cost), summed with weights from a serde `RewardConfig`.

use crate::extract::{AnswerForm, extract_from_content, split_thinking};
use crate::grade::grade_problem;
use crate::problem::Problem;
use serde::{Deserialize, Serialize};

/// Where the answer must be for the format reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedForm {
    /// `\boxed{…}`, as the default instruction asks.
    Boxed,
    /// `<answer>…</answer>`, as TinyZero's countdown prompt asks.
    AnswerTag,
    /// Any extractable answer.
    Any,
}

/// Length penalty, added (it is ≤ 0) to the reward times `length_weight`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LengthPenalty {
    None,
    /// DAPO: 0 up to `max_tokens - cache_tokens`, then falling linearly to −1 at `max_tokens`,
    /// and −1 beyond.
    Overlong {
        max_tokens: usize,
        cache_tokens: usize,
    },
    /// `−per_token × max(0, tokens − free_tokens)`.
    Linear {
        per_token: f64,
        free_tokens: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    pub accuracy_weight: f64,
    pub format_weight: f64,
    /// Format needs a closing `</think>` before the answer.
    pub require_think: bool,
    pub answer_form: ExpectedForm,
    pub length_penalty: LengthPenalty,
    pub length_weight: f64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        Self {
            accuracy_weight: 1.0,
            format_weight: 0.1,
            require_think: true,
            answer_form: ExpectedForm::Boxed,
            length_penalty: LengthPenalty::None,
            length_weight: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardBreakdown {
    /// 1 when correct, else 0.
    pub accuracy: f64,
    /// 1 when the format checks pass, else 0.
    pub format: f64,
    /// The (unweighted, ≤ 0) length penalty.
    pub length_penalty: f64,
    /// Weighted sum: the scalar reward for GRPO.
    pub total: f64,
    pub correct: bool,
    pub think_closed: bool,
    pub answer_form_ok: bool,
    pub extracted: Option<String>,
    pub form: Option<AnswerForm>,
    /// Tokens used for the length penalty (given, or estimated as ⌈chars / 4⌉).
    pub tokens: usize,
}

/// A rough token count for when the caller has none: about 4 characters per token.
pub fn estimate_tokens(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// Reward with an estimated token count; the trainer should prefer [`reward_with_tokens`].
pub fn reward(problem: &Problem, response: &str, cfg: &RewardConfig) -> RewardBreakdown {
    reward_with_tokens(problem, response, None, cfg)
}

/// Reward for one sampled `response` of `tokens` completion tokens.
pub fn reward_with_tokens(
    problem: &Problem,
    response: &str,
    tokens: Option<usize>,
    cfg: &RewardConfig,
) -> RewardBreakdown {
    let split = split_thinking(response);
    let found = split.content.and_then(extract_from_content);
    let correct = found.as_ref().is_some_and(|e| grade_problem(problem, &e.answer));
    let think_closed = split.closed();
    let answer_form_ok = match (&found, cfg.answer_form) {
        (None, _) => false,
        (Some(e), ExpectedForm::Boxed) => e.form == AnswerForm::Boxed,
        (Some(e), ExpectedForm::AnswerTag) => e.form == AnswerForm::AnswerTag,
        (Some(_), ExpectedForm::Any) => true,
    };
    let format_ok = answer_form_ok && (think_closed || !cfg.require_think);
    let tokens = tokens.unwrap_or_else(|| estimate_tokens(response));
    let length_penalty = length_penalty(cfg.length_penalty, tokens);
    let accuracy = if correct { 1.0 } else { 0.0 };
    let format = if format_ok { 1.0 } else { 0.0 };
    RewardBreakdown {
        accuracy,
        format,
        length_penalty,
        total: cfg.accuracy_weight * accuracy + cfg.format_weight * format + cfg.length_weight * length_penalty,
        correct,
        think_closed,
        answer_form_ok,
        extracted: found.as_ref().map(|e| e.answer.clone()),
        form: found.map(|e| e.form),
        tokens,
    }
}

pub fn length_penalty(kind: LengthPenalty, tokens: usize) -> f64 {
    match kind {
        LengthPenalty::None => 0.0,
        LengthPenalty::Overlong { max_tokens, cache_tokens } => {
            let safe = max_tokens.saturating_sub(cache_tokens);
            if tokens <= safe {
                0.0
            } else if tokens <= max_tokens && cache_tokens > 0 {
                (safe as f64 - tokens as f64) / cache_tokens as f64
            } else {
                -1.0
            }
        }
        LengthPenalty::Linear { per_token, free_tokens } => -per_token * tokens.saturating_sub(free_tokens) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem() -> Problem {
        Problem::new("What is 2 + 3?", "5")
    }

    #[test]
    fn accuracy_and_format() {
        let cfg = RewardConfig::default();
        let r = reward(&problem(), "<think>2+3</think> The sum is \\boxed{5}.", &cfg);
        assert!(r.correct && r.think_closed && r.answer_form_ok);
        assert!((r.total - 1.1).abs() < 1e-12);
        let r = reward(&problem(), "The answer is 5", &cfg);
        assert_eq!((r.accuracy, r.format), (1.0, 0.0));
        let r = reward(&problem(), "2+3</think>\\boxed{6}", &cfg);
        assert_eq!((r.accuracy, r.format), (0.0, 1.0));
        let r = reward(&problem(), "<think>\\boxed{5}", &cfg);
        assert_eq!((r.accuracy, r.format, r.total), (0.0, 0.0, 0.0));
        let loose = RewardConfig { require_think: false, answer_form: ExpectedForm::Any, ..cfg };
        assert_eq!(reward(&problem(), "it is 5", &loose).format, 1.0);
    }

    #[test]
    fn countdown_uses_checker() {
        let mut p = Problem::new("", "1 + 2");
        p.numbers = Some(vec![1, 2, 4]);
        p.target = Some(8);
        let cfg = RewardConfig { answer_form: ExpectedForm::AnswerTag, ..Default::default() };
        let r = reward(&p, "<think>x</think><answer>(1 + 2) * 4 - 4</answer>", &cfg);
        assert!(!r.correct && r.answer_form_ok);
        assert!(reward(&p, "<think>x</think><answer>4 * 2 = 8</answer>", &cfg).correct);
    }

    #[test]
    fn length_penalties() {
        let dapo = LengthPenalty::Overlong { max_tokens: 100, cache_tokens: 20 };
        assert_eq!(length_penalty(dapo, 80), 0.0);
        assert!((length_penalty(dapo, 90) + 0.5).abs() < 1e-12);
        assert_eq!(length_penalty(dapo, 100), -1.0);
        assert_eq!(length_penalty(dapo, 150), -1.0);
        let lin = LengthPenalty::Linear { per_token: 0.001, free_tokens: 10 };
        assert!((length_penalty(lin, 110) + 0.1).abs() < 1e-12);
        let cfg = RewardConfig { length_penalty: dapo, ..Default::default() };
        let r = reward_with_tokens(&problem(), "</think>\\boxed{5}", Some(90), &cfg);
        assert!((r.total - 0.6).abs() < 1e-12);
    }

    #[test]
    fn config_from_json() {
        let cfg: RewardConfig = serde_json::from_str(
            r#"{"format_weight":0.5,"length_penalty":{"kind":"overlong","max_tokens":4096,"cache_tokens":512}}"#,
        )
        .unwrap();
        assert_eq!(cfg.accuracy_weight, 1.0);
        assert_eq!(cfg.length_penalty, LengthPenalty::Overlong { max_tokens: 4096, cache_tokens: 512 });
        assert!(serde_json::from_str::<RewardConfig>(r#"{"acc":1}"#).is_err());
    }
}
