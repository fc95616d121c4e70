//! Distillation data by rejection sampling: a teacher answers generated problems K times each
//! through the batched engine; only answers the tasks crate's reward grades correct (and well
//! formed) are kept, written as an SFT dataset of chat messages with the thinking inside.

use crate::error::{Result, TrainError};
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{Engine, GenerationRequest, SamplingParams};
use reasoner_model::LoadedModel;
use reasoner_model::chat_template::ChatMessage;
use reasoner_tasks::{Problem, PromptConfig, RewardConfig, build_prompt, reward, with_prompt_think};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

pub struct DistillOptions {
    pub samples: usize,
    pub params: SamplingParams,
    /// Problems per engine batch (each with `samples` sequences).
    pub batch: usize,
    /// Keep at most this many correct traces per problem.
    pub keep_per_problem: usize,
    pub prompt: PromptConfig,
    pub reward: RewardConfig,
}

#[derive(Debug, Default, Clone)]
pub struct TaskAcceptance {
    pub sampled: usize,
    pub accepted: usize,
    pub kept: usize,
}

/// Sample, grade, keep the correct traces and write them to `out`; acceptance per task.
pub fn distill(
    teacher: &LoadedModel,
    problems: &[Problem],
    opts: &DistillOptions,
    out: &Path,
    mut on_batch: impl FnMut(usize),
) -> Result<BTreeMap<String, TaskAcceptance>> {
    let tok = teacher
        .tokenizer
        .as_ref()
        .ok_or_else(|| TrainError::Invalid(format!("{}: the teacher has no tokenizer", teacher.path.display())))?;
    let mut file = std::fs::File::create(out).map_err(|e| TrainError::io(out, e))?;
    let mut stats: BTreeMap<String, TaskAcceptance> = BTreeMap::new();
    let mut seed = opts.params.seed;
    for (b, chunk) in problems.chunks(opts.batch.max(1)).enumerate() {
        let mut requests = Vec::new();
        let mut users = Vec::new();
        for p in chunk {
            let user = build_prompt(p, &opts.prompt);
            let msg = ChatMessage { role: "user".into(), content: user.clone(), reasoning_content: None };
            let prompt = chat_prompt(teacher, &[msg], &serde_json::Map::new())?;
            for _ in 0..opts.samples {
                seed = seed.wrapping_add(1);
                let params = SamplingParams { seed, ..opts.params.clone() };
                requests.push(GenerationRequest {
                    prompt_ids: prompt.ids.clone(),
                    params,
                    stop: Vec::new(),
                    think_open: prompt.think_open,
                });
            }
            users.push(user);
        }
        let (completions, _) = Engine::new(teacher).generate(&requests, |_, _| {})?;
        for (i, p) in chunk.iter().enumerate() {
            let task = p.task.clone().unwrap_or_else(|| "unknown".into());
            let s = stats.entry(task.clone()).or_default();
            let mut kept_here = 0;
            for (j, c) in completions[i * opts.samples..(i + 1) * opts.samples].iter().enumerate() {
                s.sampled += 1;
                let decoded = tok.decode(&c.token_ids, false)?;
                let text =
                    if requests[i * opts.samples + j].think_open { with_prompt_think(&decoded) } else { decoded };
                let r = reward(p, &text, &opts.reward);
                if !(r.correct && r.think_closed && c.finish_reason == "stop") {
                    continue;
                }
                s.accepted += 1;
                if kept_here >= opts.keep_per_problem {
                    continue;
                }
                kept_here += 1;
                s.kept += 1;
                let row = json!({
                    "messages": [
                        {"role": "user", "content": users[i]},
                        {"role": "assistant", "content": text.trim()},
                    ],
                    "task": task,
                    "answer": p.answer,
                });
                writeln!(file, "{row}").map_err(|e| TrainError::io(out, e))?;
            }
        }
        on_batch(b + 1);
    }
    file.sync_all().map_err(|e| TrainError::io(out, e))?;
    Ok(stats)
}
