//! reasoner-tasks: checkable problem generators, answer extraction, grading, rewards and
//! evaluation metrics. Pure library: no model, no tokenizer; callers pass text and token counts.

pub mod countdown;
pub mod dataset;
pub mod extract;
pub mod generators;
pub mod grade;
pub mod metrics;
pub mod problem;
pub mod report;
pub mod rewards;
pub mod rng;

pub use countdown::{countdown_check, countdown_verify, CountdownError};
pub use dataset::{load_jsonl, read_jsonl, write_jsonl, DatasetError, LoadOptions, Loaded};
pub use extract::{extract, extract_answer, split_thinking, AnswerForm, Extracted};
pub use generators::{generate, generate_one, GenOptions};
pub use grade::{grade, grade_problem, grade_response, grade_text, GradeOutcome};
pub use metrics::{evaluate_item, summarize, summarize_groups, EvalSummary, GroupSummary, ItemResult, SampleResult, SampledResponse};
pub use problem::{build_prompt, task_by_name, Problem, PromptConfig, TaskError, TaskKind, DEFAULT_INSTRUCTION};
pub use report::{format_summary_table, plot_accuracy, ReportError};
pub use rewards::{reward, reward_with_tokens, LengthPenalty, RewardBreakdown, RewardConfig};
