//! Crash-safe checkpoints. A checkpoint is a directory `checkpoints/step-N/` holding a complete
//! Hugging Face model (so every command loads it) plus the optimizer moments and the trainer's
//! state. It is written under a temporary name, every file fsynced, then renamed into place and
//! the parent fsynced: a crash at any moment leaves either the old set or the new one whole.

use crate::error::{Result, TrainError};
use crate::optim::AdamW;
use crate::policy::{Policy, f32_safetensors_bytes, read_f32_safetensors};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a run stands: what `--resume` needs besides the weights and the optimizer moments.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainerState {
    /// Optimizer steps done.
    pub step: usize,
    /// Position in the data: (epoch, index within the epoch's shuffled order) for SFT, problems
    /// drawn so far for GRPO.
    pub data_epoch: usize,
    pub data_index: usize,
    pub seed: u64,
    /// Tokens trained on so far.
    pub tokens: u64,
}

/// Write `bytes` to `path` and fsync it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(|e| TrainError::io(path, e))?;
    f.write_all(bytes).map_err(|e| TrainError::io(path, e))?;
    f.sync_all().map_err(|e| TrainError::io(path, e))
}

pub fn fsync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| TrainError::io(dir, e))
}

/// Write `fill`'s files into a fresh temporary directory, then move it to `dest` atomically
/// (replacing an older `dest`, as `final/` is on a rerun).
pub fn write_dir_atomically(dest: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = dest.parent().ok_or_else(|| TrainError::io(dest, "has no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, format!("cannot create the directory: {e}")))?;
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("checkpoint");
    let tmp = parent.join(format!(".{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| TrainError::io(&tmp, format!("cannot create the directory: {e}")))?;
    fill(&tmp)?;
    fsync_dir(&tmp)?;
    if dest.exists() {
        // The old copy goes aside first; only after the new one is in place is it removed.
        let old = parent.join(format!(".{name}.old"));
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
        }
        std::fs::rename(dest, &old).map_err(|e| TrainError::io(dest, e))?;
        std::fs::rename(&tmp, dest).map_err(|e| TrainError::io(dest, e))?;
        fsync_dir(parent)?;
        std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
    } else {
        std::fs::rename(&tmp, dest).map_err(|e| TrainError::io(dest, e))?;
    }
    fsync_dir(parent)
}

pub fn checkpoint_dir(run: &Path, step: usize) -> PathBuf {
    run.join("checkpoints").join(format!("step-{step}"))
}

/// Save weights, optimizer and state as `checkpoints/step-N`, then drop all but the newest `keep`.
pub fn save_checkpoint(run: &Path, policy: &Policy, opt: &AdamW, state: &TrainerState, keep: usize) -> Result<PathBuf> {
    let dest = checkpoint_dir(run, state.step);
    write_dir_atomically(&dest, |dir| {
        policy.save_hf(dir)?;
        write_synced(&dir.join("optimizer.safetensors"), &f32_safetensors_bytes(&opt.state_tensors(policy)?)?)?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| TrainError::Invalid(e.to_string()))?;
        // Written last: a directory with trainer_state.json is complete.
        write_synced(&dir.join("trainer_state.json"), &json)
    })?;
    let mut steps = list_checkpoints(run)?;
    steps.sort();
    let excess = steps.len().saturating_sub(keep.max(1));
    for s in &steps[..excess] {
        let d = checkpoint_dir(run, *s);
        std::fs::remove_dir_all(&d).map_err(|e| TrainError::io(&d, e))?;
    }
    Ok(dest)
}

/// Steps of the complete checkpoints in a run directory.
pub fn list_checkpoints(run: &Path) -> Result<Vec<usize>> {
    let dir = run.join("checkpoints");
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut steps = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| TrainError::io(&dir, e))? {
        let entry = entry.map_err(|e| TrainError::io(&dir, e))?;
        let name = entry.file_name();
        if let Some(n) = name.to_str().and_then(|n| n.strip_prefix("step-")).and_then(|n| n.parse().ok())
            && entry.path().join("trainer_state.json").exists()
        {
            steps.push(n);
        }
    }
    steps.sort();
    Ok(steps)
}

/// Restore the newest checkpoint into `policy` and `opt`; its state, or `None` when the run
/// has none yet.
pub fn restore_latest(run: &Path, policy: &Policy, opt: &mut AdamW) -> Result<Option<(TrainerState, PathBuf)>> {
    let Some(&step) = list_checkpoints(run)?.last() else { return Ok(None) };
    let dir = checkpoint_dir(run, step);
    let state_path = dir.join("trainer_state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: state_path.clone(),
        message: format!("not a trainer state: {e}"),
    })?;
    policy.load_weights(&dir.join("model.safetensors"))?;
    let opt_path = dir.join("optimizer.safetensors");
    opt.load_state_tensors(policy, &read_f32_safetensors(&opt_path)?, &opt_path)?;
    Ok(Some((state, dir)))
}
