//! GRPO (DeepSeekMath, DeepSeek-R1): for each prompt, G completions sampled from the current
//! policy by the batched engine; rewards from the tasks crate (accuracy + format); advantages
//! normalised within each group; the clipped ratio objective with an optional k3 KL to the
//! frozen starting model; `inner_steps` optimizer steps on each batch of rollouts.

use crate::config::{GrpoSection, TrainConfig};
use crate::data_parallel::{ShardLoss, sharded_backward};
use crate::error::{Result, TrainError};
use crate::loss::{GrpoObjective, PolicyTokens, grpo_loss, next_token_logprobs};
use crate::metrics::row;
use crate::optim::Gradients;
use crate::run::{Run, RunSummary};
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{Engine, GenerationRequest, SamplingParams};
use reasoner_model::CausalLm;
use reasoner_model::chat_template::ChatMessage;
use reasoner_tasks::{
    GenOptions, LoadOptions, Problem, PromptConfig, RewardConfig, TaskKind, build_prompt, generate_one, task_by_name,
    with_prompt_think,
};
use std::path::Path;
use std::time::Instant;

/// Where a run's problems come from: a file used in order, or the generators, interleaved.
enum ProblemSource {
    File(Vec<Problem>),
    Tasks { tasks: Vec<TaskKind>, opts: GenOptions },
}

impl ProblemSource {
    fn new(g: &GrpoSection, seed: u64) -> Result<Self> {
        if let Some(path) = &g.data {
            let loaded = reasoner_tasks::load_jsonl(path, &LoadOptions::default())
                .map_err(|e| TrainError::Data { path: path.clone(), message: e.to_string() })?;
            if loaded.problems.is_empty() {
                return Err(TrainError::Data {
                    path: path.clone(),
                    message: "the problem file holds no problems".into(),
                });
            }
            return Ok(ProblemSource::File(loaded.problems));
        }
        let tasks = g
            .tasks
            .iter()
            .map(|t| task_by_name(t).map_err(|e| TrainError::Invalid(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        // A stream of its own: evaluation sets draw from the generators' default seeds.
        let opts =
            GenOptions { seed: seed ^ 0x6772_706f_7472_6169, difficulty: g.difficulty.unwrap_or(2), digits: None };
        Ok(ProblemSource::Tasks { tasks, opts })
    }

    fn get(&self, index: usize) -> Result<Problem> {
        match self {
            ProblemSource::File(p) => Ok(p[index % p.len()].clone()),
            ProblemSource::Tasks { tasks, opts } => {
                let task = tasks[index % tasks.len()];
                generate_one(task, (index / tasks.len()) as u64, opts).map_err(|e| TrainError::Invalid(e.to_string()))
            }
        }
    }
}

/// One sampled completion, ready for the loss.
struct Rollout {
    /// Prompt then completion (with EOS when the model ended it).
    ids: Vec<u32>,
    completion_len: usize,
    advantage: f32,
    /// Log-probs of the sampling policy, when several updates use this batch (else empty).
    old_logp: Vec<f32>,
    ref_logp: Vec<f32>,
}

/// Group-relative advantages: (r − mean) / (std + ε), or r − mean unscaled (Dr. GRPO).
pub fn group_advantages(rewards: &[f64], scale: bool) -> Vec<f64> {
    let n = rewards.len() as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    // Sample standard deviation, as TRL (torch.std) computes it.
    let var = rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let std = var.sqrt();
    rewards.iter().map(|r| if scale { (r - mean) / (std + 1e-4) } else { r - mean }).collect()
}

fn mix(a: u64, b: u64) -> u64 {
    reasoner_model::named_tensors::SplitMix64(a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

pub fn run_grpo(cfg: TrainConfig, dir: &Path, resume: bool, show_progress: bool) -> Result<RunSummary> {
    let g = cfg.grpo.clone().ok_or_else(|| TrainError::Invalid("a grpo run needs a [grpo] table".into()))?;
    let reward_cfg: RewardConfig = cfg.reward.clone().unwrap_or_default();
    let (mut run, resumed_from) = Run::start(cfg, dir, resume, show_progress, g.beta > 0.0)?;
    let source = ProblemSource::new(&g, run.cfg.seed)?;
    let prompt_cfg = match &g.instruction {
        Some(i) => PromptConfig { instruction: i.clone() },
        None => PromptConfig::default(),
    };
    let o = run.cfg.optim.clone();
    let per_step = o.batch_size * o.grad_accum;
    let eos = run.policy.infer.eos_ids().first().copied();
    while run.state.step < o.steps {
        let t0 = Instant::now();
        let problems = (0..per_step).map(|k| source.get(run.state.data_index + k)).collect::<Result<Vec<_>>>()?;
        run.state.data_index += per_step;

        // Rollouts: every group of the step in one batch through the engine.
        let mut requests = Vec::with_capacity(per_step * g.group_size);
        for (i, p) in problems.iter().enumerate() {
            let msg =
                ChatMessage { role: "user".into(), content: build_prompt(p, &prompt_cfg), reasoning_content: None };
            let prompt = chat_prompt(&run.policy.infer, &[msg], &serde_json::Map::new())?;
            for j in 0..g.group_size {
                let params = SamplingParams {
                    temperature: g.temperature as f32,
                    top_k: 0,
                    top_p: g.top_p as f32,
                    min_p: 0.0,
                    repeat_penalty: 1.0,
                    seed: mix(mix(run.cfg.seed, run.state.step as u64), (i * g.group_size + j) as u64),
                    max_tokens: g.max_completion_tokens,
                };
                requests.push(GenerationRequest {
                    prompt_ids: prompt.ids.clone(),
                    params,
                    stop: Vec::new(),
                    think_open: prompt.think_open,
                });
            }
        }
        let (completions, gen_stats) = Engine::new(&run.policy.infer).generate(&requests, |_, _| {})?;
        let t_gen = t0.elapsed().as_secs_f64();

        // Rewards and advantages.
        let t1 = Instant::now();
        let tok = run
            .policy
            .infer
            .tokenizer
            .as_ref()
            .ok_or_else(|| TrainError::Invalid("the model has no tokenizer".into()))?;
        let mut rollouts = Vec::new();
        let (mut rewards_all, mut acc, mut fmt, mut think_len) = (Vec::new(), 0f64, 0f64, 0usize);
        let mut groups_kept = 0usize;
        for (i, p) in problems.iter().enumerate() {
            let group = &completions[i * g.group_size..(i + 1) * g.group_size];
            let req = &requests[i * g.group_size];
            let mut rewards = Vec::with_capacity(g.group_size);
            for c in group {
                let decoded = tok.decode(&c.token_ids, false)?;
                let text = if req.think_open { with_prompt_think(&decoded) } else { decoded };
                let r = reasoner_tasks::reward_with_tokens(p, &text, Some(c.completion_tokens), &reward_cfg);
                acc += r.accuracy;
                fmt += r.format;
                think_len += c.reasoning_tokens;
                rewards.push(r.total);
            }
            rewards_all.extend(&rewards);
            let all_equal = rewards.iter().all(|&r| r == rewards[0]);
            if all_equal && g.drop_zero_variance {
                continue;
            }
            groups_kept += 1;
            for (c, a) in group.iter().zip(group_advantages(&rewards, g.scale_rewards)) {
                let mut ids = req.prompt_ids.clone();
                ids.extend(&c.token_ids);
                if c.finish_reason == "stop" {
                    ids.extend(eos);
                }
                let completion_len = ids.len() - req.prompt_ids.len();
                if completion_len > 0 {
                    rollouts.push(Rollout {
                        ids,
                        completion_len,
                        advantage: a as f32,
                        old_logp: Vec::new(),
                        ref_logp: Vec::new(),
                    });
                }
            }
        }
        let t_score = t1.elapsed().as_secs_f64();

        // Old log-probs (needed apart only when several updates use one batch: with one, the
        // loss's own forward gives them) and reference log-probs, once per batch of rollouts.
        let t2 = Instant::now();
        let chunks: Vec<std::ops::Range<usize>> = (0..rollouts.len())
            .step_by(o.batch_size * g.group_size)
            .map(|s| s..(s + o.batch_size * g.group_size).min(rollouts.len()))
            .collect();
        for r in &chunks {
            let olds = if g.inner_steps > 1 {
                completion_logprobs(run.policy.train.model.as_ref(), &rollouts[r.clone()])?
            } else {
                vec![Vec::new(); r.len()]
            };
            let refs = match &run.reference {
                Some(m) => completion_logprobs(m.model.as_ref(), &rollouts[r.clone()])?,
                None => vec![Vec::new(); r.len()],
            };
            for ((ro, old), rf) in rollouts[r.clone()].iter_mut().zip(olds).zip(refs) {
                ro.old_logp = old;
                ro.ref_logp = rf;
            }
        }
        let batch_tokens: usize = rollouts.iter().map(|r| r.completion_len).sum();
        let objective = GrpoObjective {
            eps_low: g.epsilon,
            eps_high: g.epsilon_high.unwrap_or(g.epsilon),
            beta: g.beta,
            loss_type: g.loss_type,
            batch_completions: rollouts.len(),
            batch_tokens,
            max_completion_tokens: g.max_completion_tokens,
        };
        let (mut loss_total, mut kl_sum, mut clipped, mut norm, mut lr) = (0f32, 0f64, 0usize, 0f64, 0f64);
        for _ in 0..g.inner_steps {
            let mut grads = Gradients::new(&run.policy);
            let mut loss_sum = 0f32;
            for r in &chunks {
                let (shard_grads, parts) = sharded_backward(&run.policy, &rollouts[r.clone()], |items| {
                    let seqs: Vec<&[u32]> = items.iter().map(|x| x.ids.as_slice()).collect();
                    let logp = next_token_logprobs(run.policy.train.model.as_ref(), &seqs)?;
                    // One update per batch: the policy that sampled is the one being updated (ρ = 1).
                    let current: Option<Vec<f32>> =
                        if g.inner_steps == 1 { Some(logp.detach().to_vec1()?) } else { None };
                    let mut parts = Vec::with_capacity(items.len());
                    let mut off = 0;
                    for it in items {
                        let len = it.ids.len() - 1;
                        let span = off + len - it.completion_len..off + len;
                        let c = logp.narrow(0, span.start, it.completion_len)?;
                        let old_logp = current.as_ref().map_or(it.old_logp.as_slice(), |cur| &cur[span]);
                        parts.push(PolicyTokens { logp: c, old_logp, ref_logp: &it.ref_logp, advantage: it.advantage });
                        off += len;
                    }
                    let terms = grpo_loss(&parts, &objective)?;
                    Ok(ShardLoss { loss: terms.loss, extra: (terms.kl_sum, terms.clipped) })
                })?;
                grads.merge(shard_grads);
                for p in parts {
                    loss_sum += p.loss;
                    kl_sum += p.extra.0;
                    clipped += p.extra.1;
                }
            }
            if rollouts.is_empty() {
                break;
            }
            (lr, norm) = run.apply(&mut grads, loss_sum)?;
            loss_total += loss_sum;
        }
        let t_train = t2.elapsed().as_secs_f64();
        let n = rewards_all.len() as f64;
        let mean = rewards_all.iter().sum::<f64>() / n;
        let std = (rewards_all.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        let gen_tokens: usize = completions.iter().map(|c| c.completion_tokens).sum();
        run.state.tokens += gen_tokens as u64;
        let denom_tokens = (batch_tokens * g.inner_steps).max(1) as f64;
        run.finish_step(row(&[
            ("loss", loss_total as f64 / g.inner_steps as f64),
            ("reward_mean", mean),
            ("reward_std", std),
            ("reward_accuracy", acc / n),
            ("reward_format", fmt / n),
            ("accuracy", acc / n),
            ("response_length", gen_tokens as f64 / n),
            ("thinking_length", think_len as f64 / n),
            ("kl", kl_sum / denom_tokens),
            ("clip_fraction", clipped as f64 / denom_tokens),
            ("grad_norm", norm),
            ("lr", lr),
            ("groups_kept", groups_kept as f64),
            ("generation_tokens_per_s", gen_stats.decode_tokens as f64 / gen_stats.decode_secs.max(1e-9)),
            ("tokens_per_s", gen_tokens as f64 / t0.elapsed().as_secs_f64().max(1e-9)),
            ("time_generation_s", t_gen),
            ("time_scoring_s", t_score),
            ("time_backward_s", t_train),
        ]))?;
    }
    run.finish(resumed_from)
}

/// Log-probs of each rollout's completion tokens under `model`, as plain numbers.
fn completion_logprobs(model: &dyn CausalLm, items: &[Rollout]) -> Result<Vec<Vec<f32>>> {
    let seqs: Vec<&[u32]> = items.iter().map(|x| x.ids.as_slice()).collect();
    let all: Vec<f32> = next_token_logprobs(model, &seqs)?.detach().to_vec1()?;
    let mut out = Vec::with_capacity(items.len());
    let mut off = 0;
    for it in items {
        let len = it.ids.len() - 1;
        out.push(all[off + len - it.completion_len..off + len].to_vec());
        off += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::group_advantages;

    #[test]
    fn advantages_are_normalised_within_the_group() {
        let a = group_advantages(&[1.0, 0.0, 0.0, 1.0], true);
        // mean 0.5, sample std 0.57735
        assert!((a[0] - 0.5 / (0.577_350_269 + 1e-4)).abs() < 1e-9, "{a:?}");
        assert!((a[1] + a[0]).abs() < 1e-12);
        assert_eq!(group_advantages(&[1.0, 0.0, 0.0, 1.0], false), vec![0.5, -0.5, -0.5, 0.5]);
        assert!(group_advantages(&[1.0, 1.0], true).iter().all(|&x| x == 0.0));
    }
}
