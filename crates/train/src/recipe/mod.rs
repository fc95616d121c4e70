//! `reasoner recipe tiny-r1`: DeepSeek-R1's recipe at toy scale, from nothing, stage by stage —
//! data, a BPE tokenizer, pretraining ("vanilla" base), cold-start SFT on worked solutions, GRPO
//! on harder problems, and distillation into a smaller student beside the same student trained
//! by GRPO alone — each stage evaluated on held-out sets. A finished stage (its `final/` or
//! `DONE` marker) is skipped; a killed training stage resumes from its checkpoint.

mod evaluate;
mod plan;

pub use evaluate::{StageScore, evaluate_model};
pub use plan::{RecipePlan, STAGES, StageTimes, run_recipe};
