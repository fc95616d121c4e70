//! Training configs, read from TOML. Every table refuses keys it does not know, and the error
//! names the key, its line and the nearest known key, because a typo in `lr` silently ignored
//! would waste a whole run.

use crate::error::{Result, TrainError};
use reasoner_tasks::RewardConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Next-token loss on the response only (the prompt is masked).
    Sft,
    /// Next-token loss on every token of plain text.
    Pretrain,
    /// Group relative policy optimization on checkable problems.
    Grpo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// sft | pretrain | grpo; the command line's `train MODE` when absent (and the two must agree).
    #[serde(default)]
    pub kind: Option<RunKind>,
    /// Run directory (metrics.jsonl, checkpoints/, final/); `--out` overrides it. Relative
    /// paths in the config are relative to the config file.
    pub out: PathBuf,
    #[serde(default)]
    pub seed: u64,
    pub model: ModelSection,
    #[serde(default)]
    pub data: DataSection,
    #[serde(default)]
    pub optim: OptimSection,
    #[serde(default)]
    pub checkpoint: CheckpointSection,
    #[serde(default)]
    pub grpo: Option<GrpoSection>,
    #[serde(default)]
    pub reward: Option<RewardConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// A Hugging Face directory to start from.
    pub path: Option<PathBuf>,
    /// A config.json to initialise at random (training from nothing).
    pub init: Option<PathBuf>,
    /// With `init`: the directory holding tokenizer.json, tokenizer_config.json and any chat
    /// template (default: the directory of `init`).
    pub tokenizer: Option<PathBuf>,
    #[serde(default = "default_init_std")]
    pub init_std: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSection {
    /// JSONL of `{"messages": [...]}`, `{"prompt", "response"}` or `{"text"}`, or a `.txt` corpus.
    pub train: Option<PathBuf>,
    /// Longer examples are cut (SFT: the response's end; pretraining: windows of this length).
    pub max_seq_len: usize,
    /// Render prompts through the model's chat template (`false`: prompt and response as raw text).
    pub template: bool,
}

impl Default for DataSection {
    fn default() -> Self {
        Self { train: None, max_seq_len: 512, template: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimSection {
    /// Optimizer steps.
    pub steps: usize,
    /// Sequences per micro-batch (SFT) or prompts per micro-batch (GRPO: whole groups).
    pub batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
    pub lr: f64,
    /// The cosine schedule ends here.
    pub min_lr: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Clip the global gradient norm to this (0 = off).
    pub grad_clip: f64,
}

impl Default for OptimSection {
    fn default() -> Self {
        Self {
            steps: 100,
            batch_size: 8,
            grad_accum: 1,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 0,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            grad_clip: 1.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointSection {
    /// Save every this many steps (0 = only the final model).
    pub every: usize,
    /// Checkpoints kept (the oldest are removed after a new one is complete).
    pub keep: usize,
}

impl Default for CheckpointSection {
    fn default() -> Self {
        Self { every: 50, keep: 2 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Mean over each completion's tokens, then over completions (DeepSeekMath).
    Grpo,
    /// Sum over tokens divided by (completions × max completion tokens) (Dr. GRPO).
    DrGrpo,
    /// Sum over tokens divided by all tokens of the batch (DAPO).
    Dapo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpoSection {
    /// Tasks to draw problems from (the tasks crate's names), when no `data` file is given.
    pub tasks: Vec<String>,
    /// Difficulty 1–5 of generated problems (none = the generator's mix).
    pub difficulty: Option<u8>,
    /// A JSONL file of problems in the tasks crate's format, used in order, instead of `tasks`.
    pub data: Option<PathBuf>,
    /// Instruction appended to each problem (the tasks crate's default when absent; "" = none).
    pub instruction: Option<String>,
    pub group_size: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub max_completion_tokens: usize,
    pub epsilon: f64,
    /// Upper clip (DAPO's clip-higher); `epsilon` when absent.
    pub epsilon_high: Option<f64>,
    /// KL coefficient to the frozen reference (0 = no reference model is kept).
    pub beta: f64,
    pub loss_type: LossType,
    /// Divide advantages by the group's standard deviation (false = Dr. GRPO's unscaled).
    pub scale_rewards: bool,
    /// Drop groups whose rewards are all equal (they carry no signal).
    pub drop_zero_variance: bool,
    /// Optimizer steps on each batch of rollouts (μ).
    pub inner_steps: usize,
}

impl Default for GrpoSection {
    fn default() -> Self {
        Self {
            tasks: vec!["add".into()],
            difficulty: None,
            data: None,
            instruction: None,
            group_size: 8,
            temperature: 1.0,
            top_p: 1.0,
            max_completion_tokens: 256,
            epsilon: 0.2,
            epsilon_high: None,
            beta: 0.0,
            loss_type: LossType::Dapo,
            scale_rewards: true,
            drop_zero_variance: false,
            inner_steps: 1,
        }
    }
}

fn default_init_std() -> f64 {
    0.02
}

impl TrainConfig {
    /// Parse a config (unknown keys refused); relative paths become relative to the config's
    /// directory. `check` (or `set_kind`) validates the values once paths are filled in.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let mut cfg: TrainConfig = toml::from_str(&text)
            .map_err(|e| TrainError::Config { path: path.to_path_buf(), message: explain_toml_error(&e) })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        rebase(&mut cfg.out);
        for p in [&mut cfg.model.path, &mut cfg.model.init, &mut cfg.model.tokenizer, &mut cfg.data.train]
            .into_iter()
            .flatten()
        {
            rebase(p);
        }
        if let Some(g) = cfg.grpo.as_mut()
            && let Some(d) = g.data.as_mut()
        {
            rebase(d);
        }
        Ok(cfg)
    }

    /// Read a config and check it as it stands (paths filled in).
    pub fn read_checked(path: &Path) -> Result<Self> {
        let cfg = Self::read(path)?;
        cfg.check(path)?;
        Ok(cfg)
    }

    /// The kind of run: as written, else GRPO when there is a [grpo] table, else SFT.
    pub fn kind(&self) -> RunKind {
        self.kind.unwrap_or(if self.grpo.is_some() { RunKind::Grpo } else { RunKind::Sft })
    }

    /// Set the kind the command line asks for; a config that names another kind is refused.
    pub fn set_kind(&mut self, kind: RunKind, path: &Path) -> Result<()> {
        if let Some(k) = self.kind
            && k != kind
        {
            return Err(TrainError::Config {
                path: path.to_path_buf(),
                message: format!("`kind = {k:?}` does not match the command's `train {kind:?}`").to_lowercase(),
            });
        }
        self.kind = Some(kind);
        self.check(path)
    }

    pub fn check(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Err(TrainError::Config { path: path.to_path_buf(), message });
        match (&self.model.path, &self.model.init) {
            (Some(_), Some(_)) => {
                return bad(
                    "[model]: give either `path` (start from a checkpoint) or `init` (random init), not both".into()
                );
            }
            (None, None) => {
                return bad(
                    "[model]: give `path` (a Hugging Face directory) or `init` (a config.json for random init)".into(),
                );
            }
            _ => {}
        }
        let o = &self.optim;
        if o.steps == 0 || o.batch_size == 0 || o.grad_accum == 0 {
            return bad("[optim]: `steps`, `batch_size` and `grad_accum` must be at least 1".into());
        }
        if !(o.lr.is_finite() && o.lr > 0.0 && o.min_lr >= 0.0 && o.min_lr <= o.lr) {
            return bad(format!("[optim]: need 0 < lr and 0 <= min_lr <= lr (lr {}, min_lr {})", o.lr, o.min_lr));
        }
        if !(0.0..1.0).contains(&o.beta1)
            || !(0.0..1.0).contains(&o.beta2)
            || o.eps <= 0.0
            || o.weight_decay < 0.0
            || o.grad_clip < 0.0
        {
            return bad("[optim]: beta1 and beta2 must lie in [0, 1), eps > 0, weight_decay and grad_clip >= 0".into());
        }
        if self.data.max_seq_len < 2 || self.data.max_seq_len > 1 << 20 {
            return bad(format!("[data]: max_seq_len {} must lie in 2..=1048576", self.data.max_seq_len));
        }
        match self.kind() {
            RunKind::Sft | RunKind::Pretrain if self.data.train.is_none() => {
                return bad("[data]: `train` (the dataset file) is required for sft and pretrain runs".into());
            }
            RunKind::Grpo => {
                let Some(g) = &self.grpo else { return bad("a grpo run needs a [grpo] table".into()) };
                if g.group_size < 2 {
                    return bad(format!(
                        "[grpo]: group_size {} must be at least 2 (advantages compare a group's members)",
                        g.group_size
                    ));
                }
                if g.max_completion_tokens == 0 || g.inner_steps == 0 {
                    return bad("[grpo]: max_completion_tokens and inner_steps must be at least 1".into());
                }
                if !(g.temperature > 0.0 && g.top_p > 0.0 && g.top_p <= 1.0) {
                    return bad("[grpo]: temperature must be > 0 and top_p in (0, 1]".into());
                }
                if g.epsilon < 0.0 || g.epsilon_high.is_some_and(|e| e < 0.0) || g.beta < 0.0 {
                    return bad("[grpo]: epsilon, epsilon_high and beta must be >= 0".into());
                }
                if g.data.is_none() && g.tasks.is_empty() {
                    return bad("[grpo]: give `tasks` or a `data` file of problems".into());
                }
                for t in &g.tasks {
                    reasoner_tasks::task_by_name(t).map_err(|e| TrainError::Config {
                        path: path.to_path_buf(),
                        message: format!("[grpo] tasks: {e}"),
                    })?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// toml's message, plus the nearest known key when the error is an unknown field.
fn explain_toml_error(e: &toml::de::Error) -> String {
    let hint = nearest_key_hint(e.message()).unwrap_or_default();
    format!("{}{hint}", e.to_string().trim_end())
}

/// For "unknown field `x`, expected one of `a`, `b`": " (did you mean `a`?)".
fn nearest_key_hint(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (unknown, expected) = rest.split_once('`')?;
    let best = expected.split('`').skip(1).step_by(2).map(|k| (edit_distance(unknown, k), k)).min()?;
    (best.0 <= unknown.len().max(3) / 2 + 1).then(|| format!("\n(did you mean `{}`?)", best.1))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("run.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn unknown_key_is_named_with_the_nearest_known_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "kind = \"sft\"\nout = \"r\"\n[model]\npath = \"m\"\n[data]\ntrain = \"d.jsonl\"\n[optim]\nlearning_rat = 0.1\n",
        );
        let e = TrainConfig::read(&p).unwrap_err().to_string();
        assert!(e.contains("learning_rat") && e.contains("run.toml"), "{e}");
        let p = write(
            dir.path(),
            "kind = \"sft\"\nout = \"r\"\n[model]\npath = \"m\"\n[data]\ntrain = \"d.jsonl\"\n[optim]\nwarmup_step = 3\n",
        );
        let e = TrainConfig::read(&p).unwrap_err().to_string();
        assert!(e.contains("did you mean `warmup_steps`"), "{e}");
        assert!(e.contains("line 8"), "{e}");
    }

    #[test]
    fn paths_are_relative_to_the_config_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "kind = \"sft\"\nout = \"r\"\n[model]\npath = \"m\"\n[data]\ntrain = \"d.jsonl\"\n");
        let c = TrainConfig::read(&p).unwrap();
        assert_eq!(c.out, dir.path().join("r"));
        assert_eq!(c.data.train.unwrap(), dir.path().join("d.jsonl"));
        let p = write(dir.path(), "kind = \"grpo\"\nout = \"r\"\n[model]\npath = \"m\"\n[grpo]\ngroup_size = 1\n");
        let e = TrainConfig::read_checked(&p).unwrap_err().to_string();
        assert!(e.contains("group_size 1"), "{e}");
        let p =
            write(dir.path(), "kind = \"grpo\"\nout = \"r\"\n[model]\npath = \"m\"\n[grpo]\ntasks = [\"divide\"]\n");
        let e = TrainConfig::read_checked(&p).unwrap_err().to_string();
        assert!(e.contains("divide"), "{e}");
    }
}
