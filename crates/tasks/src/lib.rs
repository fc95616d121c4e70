//! reasoner-tasks: checkable problem generators, answer extraction, grading, rewards and
//! evaluation metrics. Pure library: no model, no tokenizer; callers pass text and token counts.
//!
//! `reasoner grade` is [`grade_text`]. `reasoner eval` is: problems from [`generate_named`] or
//! [`load_jsonl`] → prompts from [`build_prompt`] → K samples per prompt from the engine →
//! [`evaluate_all`] → [`summarize`] / [`summarize_groups`] → [`write_jsonl`],
//! [`format_summary_table`], [`plot_accuracy`]. GRPO calls [`reward_with_tokens`].

pub mod countdown;
pub mod dataset;
pub mod extract;
pub mod extract_spans;
pub mod generators;
pub mod grade;
pub mod metrics;
pub mod ood;
pub mod phrasing;
pub mod pretrain;
pub mod problem;
pub mod recipe_data;
pub mod report;
pub mod rewards;
pub mod rng;
pub mod traces;

pub use countdown::{CountdownError, countdown_check, countdown_verify};
pub use dataset::{DatasetError, LoadOptions, Loaded, load_jsonl, read_jsonl, write_jsonl};
pub use extract::{AnswerForm, Extracted, extract, extract_answer, split_thinking, with_prompt_think};
pub use generators::{GenOptions, generate, generate_named, generate_one};
pub use grade::{GradeOutcome, grade, grade_problem, grade_response, grade_text};
pub use metrics::{
    EvalSummary, GroupSummary, ItemResult, SampleResult, SampledResponse, evaluate_all, evaluate_item, summarize,
    summarize_groups,
};
pub use problem::{DEFAULT_INSTRUCTION, Problem, PromptConfig, TaskError, TaskKind, build_prompt, task_by_name};
pub use report::{ReportError, format_summary_table, plot_accuracy};
pub use rewards::{ExpectedForm, LengthPenalty, RewardBreakdown, RewardConfig, reward, reward_with_tokens};
