//! What every training run shares: the run directory (checked writable, refused when it already
//! holds a run unless resuming), the policy from a checkpoint or a random init, the optimizer,
//! `--resume` from the newest complete checkpoint, metrics, periodic checkpoints, the progress
//! bar, the stop on a non-finite loss, and the final model in `final/`.

use crate::checkpoint::{TrainerState, list_checkpoints, restore_latest, save_checkpoint, write_dir_atomically};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::metrics::MetricsLog;
use crate::optim::{AdamW, Gradients, learning_rate};
use crate::policy::Policy;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

pub struct Run {
    pub cfg: TrainConfig,
    pub dir: PathBuf,
    pub policy: Policy,
    pub opt: AdamW,
    pub state: TrainerState,
    pub metrics: MetricsLog,
    pub bar: ProgressBar,
    /// The starting model, frozen, for the KL term (GRPO with β > 0). Made before a resume
    /// restores later weights, so a resumed run keeps the same reference.
    pub reference: Option<reasoner_model::LoadedModel>,
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub steps: usize,
    pub final_dir: PathBuf,
    pub resumed_from: Option<usize>,
}

impl Run {
    pub fn start(
        cfg: TrainConfig,
        dir: &Path,
        resume: bool,
        show_progress: bool,
        keep_reference: bool,
    ) -> Result<(Self, Option<usize>)> {
        prepare_dir(dir, resume)?;
        let policy = match (&cfg.model.path, &cfg.model.init) {
            (Some(p), _) => Policy::from_checkpoint(p)?,
            (None, Some(init)) => {
                let tok_dir = cfg
                    .model
                    .tokenizer
                    .clone()
                    .unwrap_or_else(|| init.parent().unwrap_or(Path::new(".")).to_path_buf());
                Policy::from_init(init, &tok_dir, cfg.seed, cfg.model.init_std)?
            }
            (None, None) => return Err(TrainError::Invalid("[model] needs `path` or `init`".into())),
        };
        let reference = if keep_reference { Some(policy.frozen_copy()?) } else { None };
        let mut opt = AdamW::new(&policy, &cfg.optim);
        let mut state = TrainerState { step: 0, data_epoch: 0, data_index: 0, seed: cfg.seed, tokens: 0 };
        let mut resumed_from = None;
        if resume && let Some((s, _)) = restore_latest(dir, &policy, &mut opt)? {
            if s.seed != cfg.seed {
                return Err(TrainError::Config {
                    path: dir.to_path_buf(),
                    message: format!("the checkpoint was made with seed {}, the config says {}", s.seed, cfg.seed),
                });
            }
            resumed_from = Some(s.step);
            state = s;
        }
        // Rows past the checkpoint were logged by the run that crashed; they are redone.
        let metrics = MetricsLog::open(dir, state.step)?;
        let bar = if show_progress { ProgressBar::new(cfg.optim.steps as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}<{eta_precise}] {bar:30} step {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(state.step as u64);
        std::fs::write(dir.join("config.toml"), toml::to_string(&cfg).unwrap_or_default())
            .map_err(|e| TrainError::io(dir, e))?;
        Ok((Self { cfg, dir: dir.to_path_buf(), policy, opt, state, metrics, bar, reference }, resumed_from))
    }

    /// Clip, check, step the optimizer; returns (lr, grad norm before clipping).
    pub fn apply(&mut self, grads: &mut Gradients, loss: f32) -> Result<(f64, f64)> {
        if !loss.is_finite() || !grads.is_finite() {
            let kept = match list_checkpoints(&self.dir)?.last() {
                Some(s) => format!(
                    "The last good checkpoint is {} (a resumed run continues from it once the cause is fixed).",
                    crate::checkpoint::checkpoint_dir(&self.dir, *s).display()
                ),
                None => "No checkpoint had been written yet.".to_string(),
            };
            let value = if loss.is_finite() { f32::NAN } else { loss };
            return Err(TrainError::NonFiniteLoss { step: self.state.step + 1, value, kept });
        }
        let norm = grads.clip(self.cfg.optim.grad_clip);
        let lr = learning_rate(&self.cfg.optim, self.state.step);
        self.opt.step(&self.policy, grads, lr)?;
        Ok((lr, norm))
    }

    /// Log the step's metrics, advance, and checkpoint when due.
    pub fn finish_step(&mut self, mut row: Map<String, Value>) -> Result<()> {
        self.state.step += 1;
        row.insert("step".into(), Value::from(self.state.step as u64));
        row.insert("tokens_total".into(), Value::from(self.state.tokens));
        self.metrics.write(&row)?;
        let msg = ["loss", "reward_mean", "accuracy"]
            .iter()
            .filter_map(|k| row.get(*k).and_then(Value::as_f64).map(|v| format!("{k} {v:.4}")))
            .collect::<Vec<_>>()
            .join(" ");
        self.bar.set_message(msg);
        self.bar.set_position(self.state.step as u64);
        let every = self.cfg.checkpoint.every;
        if every > 0 && self.state.step.is_multiple_of(every) && self.state.step < self.cfg.optim.steps {
            save_checkpoint(&self.dir, &self.policy, &self.opt, &self.state, self.cfg.checkpoint.keep)?;
        }
        Ok(())
    }

    /// Write `final/` (and a last checkpoint, so a finished run resumes as finished).
    pub fn finish(self, resumed_from: Option<usize>) -> Result<RunSummary> {
        save_checkpoint(&self.dir, &self.policy, &self.opt, &self.state, self.cfg.checkpoint.keep)?;
        let final_dir = self.dir.join("final");
        write_dir_atomically(&final_dir, |d| self.policy.save_hf(d))?;
        self.bar.finish();
        Ok(RunSummary { steps: self.state.step, final_dir, resumed_from })
    }
}

/// Create the run directory and check that it can be written; a directory that already holds a
/// run is refused unless resuming, so a finished run is never overwritten by mistake.
fn prepare_dir(dir: &Path, resume: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, format!("cannot create the run directory: {e}")))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .map_err(|e| TrainError::io(dir, format!("the run directory is not writable: {e}")))?;
    let _ = std::fs::remove_file(&probe);
    if !resume && (dir.join("metrics.jsonl").exists() || dir.join("checkpoints").exists()) {
        return Err(TrainError::RunExists { dir: dir.to_path_buf() });
    }
    Ok(())
}
