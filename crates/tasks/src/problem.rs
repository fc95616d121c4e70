//! What a problem is: the `Problem` record shared by generators, data loaders, rewards and
//! evaluation, its JSONL form, the names of the generated tasks, and how prompts are built.

use serde::{Deserialize, Serialize};

/// R1's recommended instruction for math problems, appended to every prompt by default.
pub const DEFAULT_INSTRUCTION: &str = "Please reason step by step, and put your final answer within \\boxed{}.";

/// One checkable problem.
///
/// JSONL form: `{"prompt","answer"[,"task","numbers","target","difficulty","id"]}`; the optional
/// keys are left out when absent. `answer` is the gold answer as text; for countdown it is one
/// valid expression, while grading checks any expression against `numbers` and `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub prompt: String,
    pub answer: String,
    /// Task name: a generator's (`add`, `countdown`, …) or a data set's (`gsm8k`, `math`, `aime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<i64>,
    /// Difficulty level (generators: 1..=5; MATH: its level 1..=5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Problem {
    /// A plain question/answer problem with no task metadata.
    pub fn new(prompt: impl Into<String>, answer: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            answer: answer.into(),
            task: None,
            numbers: None,
            target: None,
            difficulty: None,
            id: None,
        }
    }

    /// The task name, or `"unknown"` when the problem came without one.
    pub fn task_name(&self) -> &str {
        self.task.as_deref().unwrap_or("unknown")
    }

    /// Countdown problems carry their numbers and target; they are graded by checking the
    /// expression rather than comparing with `answer`.
    pub fn countdown_spec(&self) -> Option<(&[i64], i64)> {
        match (&self.numbers, self.target) {
            (Some(numbers), Some(target)) => Some((numbers.as_slice(), target)),
            _ => None,
        }
    }

    /// One JSON line (no trailing newline).
    pub fn to_jsonl(&self) -> String {
        // Serializing plain strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The generated tasks, by the names the CLI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Add,
    Sub,
    Mul,
    Linear,
    Countdown,
    Mixed,
}

impl TaskKind {
    pub const ALL: [TaskKind; 6] =
        [TaskKind::Add, TaskKind::Sub, TaskKind::Mul, TaskKind::Linear, TaskKind::Countdown, TaskKind::Mixed];

    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Add => "add",
            TaskKind::Sub => "sub",
            TaskKind::Mul => "mul",
            TaskKind::Linear => "linear",
            TaskKind::Countdown => "countdown",
            TaskKind::Mixed => "mixed",
        }
    }
}

impl std::fmt::Display for TaskKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Names of data-set tasks that the loaders assign; graded as math answers.
pub const DATASET_TASKS: [&str; 4] = ["jsonl", "gsm8k", "math", "aime"];

/// Errors about task names and generator settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TaskError {
    #[error("unknown task '{name}'; known tasks: {known}")]
    UnknownTask { name: String, known: String },
    #[error("difficulty {level} is out of range; use 1 to 5")]
    BadDifficulty { level: u8 },
    #[error("digits {digits} is out of range; use 1 to 18")]
    BadDigits { digits: u32 },
    #[error("countdown gold '{text}' is not understood; give {{\"numbers\":[..],\"target\":N}} or '19 36 55 7 -> 65'")]
    BadCountdownGold { text: String },
}

fn known_generated() -> String {
    TaskKind::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

/// The generated task called `name` (case-insensitive), or an error listing the known names.
pub fn task_by_name(name: &str) -> Result<TaskKind, TaskError> {
    let wanted = name.trim().to_ascii_lowercase();
    TaskKind::ALL
        .iter()
        .copied()
        .find(|t| t.name() == wanted)
        .ok_or(TaskError::UnknownTask { name: name.to_string(), known: known_generated() })
}

/// Accepts generated task names and data-set task names (for `grade --task`); errors list both.
pub fn check_task_name(name: &str) -> Result<String, TaskError> {
    let wanted = name.trim().to_ascii_lowercase();
    if task_by_name(&wanted).is_ok() || DATASET_TASKS.contains(&wanted.as_str()) {
        return Ok(wanted);
    }
    Err(TaskError::UnknownTask {
        name: name.to_string(),
        known: format!("{}, {}", known_generated(), DATASET_TASKS.join(", ")),
    })
}

/// How the prompt sent to the model is built from a problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptConfig {
    /// Appended after a blank line; empty means none.
    pub instruction: String,
}

impl Default for PromptConfig {
    fn default() -> Self {
        Self { instruction: DEFAULT_INSTRUCTION.to_string() }
    }
}

/// The user message for `problem`: its prompt, then the instruction on its own paragraph.
/// (The chat template is applied by the model crate, not here.)
pub fn build_prompt(problem: &Problem, cfg: &PromptConfig) -> String {
    let instruction = cfg.instruction.trim();
    if instruction.is_empty() {
        problem.prompt.clone()
    } else {
        format!("{}\n\n{}", problem.prompt.trim_end(), instruction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_task_lists_names() {
        let err = task_by_name("divide").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'divide'"), "{msg}");
        assert!(msg.contains("add, sub, mul, linear, countdown, mixed"), "{msg}");
        assert_eq!(task_by_name("Countdown"), Ok(TaskKind::Countdown));
        assert_eq!(check_task_name("GSM8K"), Ok("gsm8k".to_string()));
        assert!(check_task_name("nope").unwrap_err().to_string().contains("aime"));
    }

    #[test]
    fn jsonl_leaves_out_absent_keys() {
        let p = Problem::new("What is 1 + 1?", "2");
        assert_eq!(p.to_jsonl(), r#"{"prompt":"What is 1 + 1?","answer":"2"}"#);
        let back: Problem = serde_json::from_str(&p.to_jsonl()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn prompt_gets_instruction() {
        let p = Problem::new("What is 1 + 1?", "2");
        let text = build_prompt(&p, &PromptConfig::default());
        assert!(text.ends_with("within \\boxed{}."));
        let bare = build_prompt(&p, &PromptConfig { instruction: String::new() });
        assert_eq!(bare, "What is 1 + 1?");
    }
}
