//! Supervised fine-tuning and pretraining: next-token cross-entropy on the response tokens
//! (SFT, prompt masked) or on every token (pretraining), over micro-batches accumulated into
//! one optimizer step.

use crate::config::TrainConfig;
use crate::data::{DataCursor, load_examples};
use crate::data_parallel::{ShardLoss, sharded_backward};
use crate::error::{Result, TrainError};
use crate::loss::{masked_nll, next_token_logprobs};
use crate::metrics::row;
use crate::optim::Gradients;
use crate::run::{Run, RunSummary};
use std::path::Path;
use std::time::Instant;

pub fn run_sft(cfg: TrainConfig, dir: &Path, resume: bool, show_progress: bool) -> Result<RunSummary> {
    let data_path = cfg.data.train.clone().ok_or_else(|| TrainError::Invalid("[data] train is required".into()))?;
    let (mut run, resumed_from) = Run::start(cfg, dir, resume, show_progress, false)?;
    let examples = load_examples(&data_path, &run.policy.train, &run.cfg.data, run.cfg.kind())?;
    let mut cursor = DataCursor::new(examples.len(), run.cfg.seed, run.state.data_epoch, run.state.data_index);
    let o = run.cfg.optim.clone();
    while run.state.step < o.steps {
        let t0 = Instant::now();
        // The whole step's examples first, so the loss is normalised by its token count.
        let micro: Vec<Vec<usize>> =
            (0..o.grad_accum).map(|_| (0..o.batch_size).map(|_| cursor.next_index()).collect()).collect();
        let denom: usize = micro.iter().flatten().map(|&i| examples[i].trained_tokens()).sum();
        let mut grads = Gradients::new(&run.policy);
        let (mut loss_sum, mut t_fwd, mut t_bwd) = (0f32, 0f64, 0f64);
        for batch in &micro {
            let (shard_grads, parts) = sharded_backward(&run.policy, batch, |shard| {
                let seqs: Vec<&[u32]> = shard.iter().map(|&i| examples[i].ids.as_slice()).collect();
                let mask: Vec<f32> =
                    shard.iter().flat_map(|&i| examples[i].mask[1..].iter().map(|&m| m as u8 as f32)).collect();
                let logp = next_token_logprobs(run.policy.train.model.as_ref(), &seqs)?;
                Ok(ShardLoss { loss: masked_nll(&logp, &mask, denom.max(1) as f32)?, extra: () })
            })?;
            loss_sum += parts.iter().map(|p| p.loss).sum::<f32>();
            grads.merge(shard_grads);
            // Shards run side by side: the slowest one's time is the step's.
            t_fwd += parts.iter().map(|p| p.forward_s).fold(0.0, f64::max);
            t_bwd += parts.iter().map(|p| p.backward_s).fold(0.0, f64::max);
        }
        let t = Instant::now();
        let (lr, norm) = run.apply(&mut grads, loss_sum)?;
        let t_opt = t.elapsed().as_secs_f64();
        let tokens: usize = micro.iter().flatten().map(|&i| examples[i].ids.len()).sum();
        run.state.tokens += tokens as u64;
        run.state.data_epoch = cursor.epoch;
        run.state.data_index = cursor.index;
        let secs = t0.elapsed().as_secs_f64();
        run.finish_step(row(&[
            ("loss", loss_sum as f64),
            ("lr", lr),
            ("grad_norm", norm),
            ("tokens", tokens as f64),
            ("trained_tokens", denom as f64),
            ("tokens_per_s", tokens as f64 / secs.max(1e-9)),
            ("time_forward_s", t_fwd),
            ("time_backward_s", t_bwd),
            ("time_optimizer_s", t_opt),
        ]))?;
    }
    run.finish(resumed_from)
}
