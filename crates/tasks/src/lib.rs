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

pub use countdown::{CountdownError, countdown_check, countdown_verify};
pub use dataset::{DatasetError, LoadOptions, Loaded, load_jsonl, read_jsonl, write_jsonl};
pub use extract::{AnswerForm, Extracted, extract, extract_answer, split_thinking};
pub use generators::{GenOptions, generate, generate_one};
pub use grade::{GradeOutcome, grade, grade_problem, grade_response, grade_text};
pub use metrics::{
    EvalSummary, GroupSummary, ItemResult, SampleResult, SampledResponse, evaluate_item, summarize,
    summarize_groups,
};
pub use problem::{
    DEFAULT_INSTRUCTION, Problem, PromptConfig, TaskError, TaskKind, build_prompt, task_by_name,
};
pub use report::{ReportError, format_summary_table, plot_accuracy};
pub use rewards::{LengthPenalty, RewardBreakdown, RewardConfig, reward, reward_with_tokens};
