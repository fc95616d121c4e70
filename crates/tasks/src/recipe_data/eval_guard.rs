//! The problems that evaluation uses, so that no training data contains them: every set that
//! `reasoner eval --task NAME --n N [--difficulty L] [--problem-seed S]` draws for the guarded
//! seeds, levels and N, plus the recipe's own fixed sets (which may fix the digit count).

use crate::generators::{GenOptions, generate};
use crate::problem::{Problem, TaskError, TaskKind};
use crate::traces::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The tasks the recipe trains and evaluates.
pub const RECIPE_TASKS: [TaskKind; 5] =
    [TaskKind::Add, TaskKind::Sub, TaskKind::Mul, TaskKind::Linear, TaskKind::Countdown];

/// One fixed evaluation set: `n` problems of `task` at `difficulty` (and `digits`, which
/// `reasoner eval` cannot set, so such sets are written to JSONL for `--data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalSet {
    /// File stem, e.g. `add-4d`.
    pub name: String,
    pub task: TaskKind,
    pub difficulty: u8,
    #[serde(default)]
    pub digits: Option<u32>,
    pub seed: u64,
}

impl EvalSet {
    fn new(name: &str, task: TaskKind, difficulty: u8, digits: Option<u32>) -> Self {
        Self { name: name.into(), task, difficulty, digits, seed: 0 }
    }

    /// The first `n` problems of the set (stable prefixes: a larger n extends a smaller one).
    pub fn problems(&self, n: usize) -> Result<Vec<Problem>, TaskError> {
        let opts = GenOptions { seed: self.seed, difficulty: self.difficulty, digits: self.digits };
        let mut set = generate(self.task, n, &opts)?;
        for p in &mut set {
            p.id = p.id.take().map(|id| format!("{}-{id}", self.name));
        }
        Ok(set)
    }
}

/// The recipe's evaluation sets, matched to issue 20's goals: add and sub up to 4 digits (sub
/// with negative results), mul 3-digit × 2-digit, linear at the default level, countdown with
/// 3 and with 4 numbers. Seed 0, as `reasoner eval` draws by default.
pub fn recipe_eval_sets() -> Vec<EvalSet> {
    vec![
        EvalSet::new("add-2d", TaskKind::Add, 2, None),
        EvalSet::new("add-4d", TaskKind::Add, 2, Some(4)),
        EvalSet::new("sub-2d", TaskKind::Sub, 2, None),
        EvalSet::new("sub-4d", TaskKind::Sub, 3, Some(4)),
        EvalSet::new("mul-3x2", TaskKind::Mul, 4, None),
        EvalSet::new("linear", TaskKind::Linear, 2, None),
        EvalSet::new("countdown-3", TaskKind::Countdown, 2, None),
        EvalSet::new("countdown-4", TaskKind::Countdown, 3, None),
    ]
}

/// Which evaluation problems training must avoid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardConfig {
    /// Problem seeds of `reasoner eval --task` to guard (its default is `--seed`, 0).
    pub seeds: Vec<u64>,
    /// Problems per (task, level, seed) guarded: any `--n` up to this is covered.
    pub max_n: usize,
    /// Also guard the recipe's own sets, each up to `max_n`.
    pub recipe_sets: bool,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self { seeds: vec![0], max_n: 500, recipe_sets: true }
    }
}

/// The set of evaluation problems, by content ([`Spec::key`]), whatever their wording.
#[derive(Debug, Clone, Default)]
pub struct EvalGuard {
    keys: HashSet<String>,
}

impl EvalGuard {
    pub fn build(cfg: &GuardConfig) -> Result<Self, TaskError> {
        let mut guard = Self::default();
        for &seed in &cfg.seeds {
            for task in RECIPE_TASKS {
                for difficulty in 1..=crate::generators::MAX_DIFFICULTY {
                    let opts = GenOptions { seed, difficulty, digits: None };
                    guard.add_all(&generate(task, cfg.max_n, &opts)?);
                }
            }
        }
        if cfg.recipe_sets {
            for set in recipe_eval_sets() {
                guard.add_all(&set.problems(cfg.max_n)?);
            }
        }
        Ok(guard)
    }

    fn add_all(&mut self, problems: &[Problem]) {
        for p in problems {
            if let Ok(spec) = Spec::from_problem(p) {
                self.keys.insert(spec.key());
            }
        }
    }

    /// True when `spec` is an evaluation problem.
    pub fn contains(&self, spec: &Spec) -> bool {
        self.keys.contains(&spec.key())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
