//! The data of the tiny-r1 recipe: pretraining text, cold-start SFT conversations (worked
//! solutions and out-of-domain replies), harder GRPO problems and the fixed evaluation sets,
//! all seeded, and all training sets disjoint from evaluation by problem content.

mod eval_guard;

pub use eval_guard::{EvalGuard, EvalSet, GuardConfig, RECIPE_TASKS, recipe_eval_sets};

use crate::dataset::DatasetError;
use crate::generators::{GenOptions, generate_one};
use crate::ood::ood_examples;
use crate::phrasing::{PhrasingSplit, phrase, problem_from_spec};
use crate::pretrain::pretrain_documents;
use crate::problem::{DEFAULT_INSTRUCTION, Problem, TaskError, TaskKind};
use crate::rng::{SplitMix64, mix64};
use crate::traces::{Spec, TraceError, solve_spec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Errors while writing recipe data; each names the file or the setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum RecipeDataError {
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("data mix: {0}")]
    BadMix(String),
    #[error("no problem outside the evaluation sets after {tries} draws for {what}")]
    Exhausted { what: String, tries: usize },
}

/// One kind of problem in a mix: `task` at one of `levels` (and one of `digits` when given,
/// for add / sub / mul), drawn with relative `weight`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draw {
    pub task: TaskKind,
    pub levels: Vec<u8>,
    #[serde(default)]
    pub digits: Vec<u32>,
    pub weight: f64,
}

impl Draw {
    fn new(task: TaskKind, levels: &[u8], digits: &[u32], weight: f64) -> Self {
        Self { task, levels: levels.to_vec(), digits: digits.to_vec(), weight }
    }
}

/// What a data set holds and how its prompts are worded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mix {
    pub draws: Vec<Draw>,
    /// Share of prompts in the generators' own wording (the rest use training alternatives).
    pub canonical_share: f64,
    /// Share of SFT prompts that end with R1's instruction (as `reasoner eval` sends them);
    /// the rest are bare, as a user types them in `reasoner chat`.
    pub instruction_share: f64,
    /// Share of SFT examples that are out-of-domain prompts with honest replies.
    pub ood_share: f64,
}

impl Mix {
    /// Cold-start SFT: every task at the sizes the goals name, 1–4 digit sums and differences.
    pub fn sft() -> Self {
        Self {
            draws: vec![
                Draw::new(TaskKind::Add, &[2], &[1, 2, 3, 4], 1.0),
                Draw::new(TaskKind::Sub, &[2, 3], &[1, 2, 3, 4], 1.0),
                Draw::new(TaskKind::Mul, &[2, 3, 4], &[], 1.5),
                Draw::new(TaskKind::Linear, &[1, 2], &[], 1.0),
                Draw::new(TaskKind::Countdown, &[1, 2, 3], &[], 1.5),
            ],
            canonical_share: 0.5,
            instruction_share: 0.6,
            ood_share: 0.04,
        }
    }

    /// GRPO: the hard end of each task (4-digit operands, 3×2 products, larger equations,
    /// countdown with bigger numbers and 4 of them).
    pub fn grpo() -> Self {
        Self {
            draws: vec![
                Draw::new(TaskKind::Add, &[2], &[3, 4], 1.0),
                Draw::new(TaskKind::Sub, &[3], &[3, 4], 1.0),
                Draw::new(TaskKind::Mul, &[4], &[], 1.5),
                Draw::new(TaskKind::Linear, &[2, 3], &[], 1.0),
                Draw::new(TaskKind::Countdown, &[2, 3, 4], &[], 2.0),
            ],
            canonical_share: 0.5,
            instruction_share: 1.0,
            ood_share: 0.0,
        }
    }

    fn validate(&self) -> Result<(), RecipeDataError> {
        let bad = |m: String| Err(RecipeDataError::BadMix(m));
        if self.draws.is_empty() || self.draws.iter().all(|d| d.weight <= 0.0) {
            return bad("'draws' needs at least one entry with a positive weight".into());
        }
        for d in &self.draws {
            if d.levels.is_empty() || d.levels.iter().any(|l| !(1..=5).contains(l)) {
                return bad(format!("{}: 'levels' must list levels 1 to 5", d.task));
            }
            if d.digits.iter().any(|x| !(1..=9).contains(x)) {
                return bad(format!("{}: 'digits' must be 1 to 9", d.task));
            }
            if d.task == TaskKind::Mixed || !d.weight.is_finite() || d.weight < 0.0 {
                return bad(format!("{}: use a single task and a weight ≥ 0", d.task));
            }
        }
        for (name, v) in [
            ("canonical_share", self.canonical_share),
            ("instruction_share", self.instruction_share),
            ("ood_share", self.ood_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("'{name}' must be between 0 and 1, not {v}"));
            }
        }
        Ok(())
    }

    fn pick_draw(&self, rng: &mut SplitMix64) -> &Draw {
        let total: f64 = self.draws.iter().map(|d| d.weight.max(0.0)).sum();
        let mut u = rng.unit_f64() * total;
        for d in &self.draws {
            u -= d.weight.max(0.0);
            if u < 0.0 {
                return d;
            }
        }
        &self.draws[self.draws.len() - 1]
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self::sft()
    }
}

/// Draws up to this many times for a problem outside the evaluation sets (the guarded sets are
/// a tiny share of every space except 1-digit sums, which are redrawn at another size).
const MAX_TRIES: usize = 1000;

/// Problem `i` of a mix: a generated problem that is not an evaluation problem.
fn draw_problem(
    mix: &Mix,
    seed: u64,
    salt: u64,
    i: u64,
    guard: &EvalGuard,
) -> Result<(Spec, Problem), RecipeDataError> {
    let mut rng = SplitMix64::for_item(seed, salt, i);
    for _ in 0..MAX_TRIES {
        let d = mix.pick_draw(&mut rng);
        let opts = GenOptions {
            // Another stream than `reasoner eval`'s seeds: collisions are rare, and guarded.
            seed: mix64(seed ^ salt),
            difficulty: *rng.pick(&d.levels),
            digits: (!d.digits.is_empty()).then(|| *rng.pick(&d.digits)),
        };
        let p = generate_one(d.task, rng.next_u64(), &opts)?;
        let spec = Spec::from_problem(&p)?;
        if !guard.contains(&spec) {
            return Ok((spec, p));
        }
    }
    Err(RecipeDataError::Exhausted { what: format!("item {i}"), tries: MAX_TRIES })
}

/// One SFT example: the user's message and the assistant's whole reply (thinking included,
/// starting with `<think>\n` as R1's template's generation prompt does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftExample {
    pub messages: Vec<ChatTurn>,
    /// The task (`add` … `countdown`, or `ood`), for statistics.
    pub task: String,
    /// The problem's content (none for out-of-domain prompts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Spec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTurn {
    pub role: String,
    pub content: String,
}

impl SftExample {
    fn new(prompt: String, reply: String, task: &str, spec: Option<Spec>) -> Self {
        Self {
            messages: vec![
                ChatTurn { role: "user".into(), content: prompt },
                ChatTurn { role: "assistant".into(), content: reply },
            ],
            task: task.into(),
            spec,
        }
    }

    /// The first user message ("" when there is none, as in a hand-edited file).
    pub fn prompt(&self) -> &str {
        self.turn("user")
    }

    /// The last assistant message ("" when there is none).
    pub fn reply(&self) -> &str {
        self.turn("assistant")
    }

    fn turn(&self, role: &str) -> &str {
        let mut found = self.messages.iter().filter(|m| m.role == role);
        let m = if role == "user" { found.next() } else { found.next_back() };
        m.map_or("", |m| m.content.as_str())
    }
}

const SFT_SALT: u64 = 0x5F7;
const GRPO_SALT: u64 = 0x6290;
const OOD_SALT: u64 = 0x00D0;

/// `n` SFT examples for `seed`: worked solutions for `mix`'s problems, and out-of-domain replies.
pub fn sft_examples(n: usize, seed: u64, mix: &Mix, guard: &EvalGuard) -> Result<Vec<SftExample>, RecipeDataError> {
    mix.validate()?;
    let ood = ood_examples(n, mix64(seed ^ OOD_SALT));
    (0..n as u64)
        .map(|i| {
            let mut rng = SplitMix64::for_item(seed, SFT_SALT ^ 1, i);
            if rng.chance(mix.ood_share) {
                let e = &ood[i as usize];
                return Ok(SftExample::new(e.prompt.clone(), e.reply.clone(), "ood", None));
            }
            let (spec, _) = draw_problem(mix, seed, SFT_SALT, i, guard)?;
            let mut prompt = phrase(&spec, PhrasingSplit::Train, mix.canonical_share, &mut rng);
            if rng.chance(mix.instruction_share) {
                prompt = format!("{prompt}\n\n{DEFAULT_INSTRUCTION}");
            }
            let reply = solve_spec(&spec)?;
            Ok(SftExample::new(prompt, reply, spec.task(), Some(spec)))
        })
        .collect()
}

/// `n` GRPO problems for `seed` in the tasks crate's JSONL problem form, worded with the
/// training phrasings; the instruction is left to the trainer's `build_prompt`.
pub fn grpo_problems(n: usize, seed: u64, mix: &Mix, guard: &EvalGuard) -> Result<Vec<Problem>, RecipeDataError> {
    Ok(grpo_items(n, seed, mix, guard)?.into_iter().map(|(_, p)| p).collect())
}

/// [`grpo_problems`] with each problem's spec beside it.
pub fn grpo_items(n: usize, seed: u64, mix: &Mix, guard: &EvalGuard) -> Result<Vec<(Spec, Problem)>, RecipeDataError> {
    mix.validate()?;
    (0..n as u64)
        .map(|i| {
            let mut rng = SplitMix64::for_item(seed, GRPO_SALT ^ 1, i);
            let (spec, generated) = draw_problem(mix, seed, GRPO_SALT, i, guard)?;
            let prompt = phrase(&spec, PhrasingSplit::Train, mix.canonical_share, &mut rng);
            let mut p = problem_from_spec(&spec, prompt);
            p.difficulty = generated.difficulty;
            p.id = Some(format!("grpo-{seed}-{i}"));
            Ok((spec, p))
        })
        .collect()
}

/// Counts per task, returned by the writers.
pub type TaskCounts = BTreeMap<String, usize>;

fn open(path: &Path) -> Result<BufWriter<File>, DatasetError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|source| DatasetError::Write { file: dir.display().to_string(), source })?;
    }
    File::create(path)
        .map(BufWriter::new)
        .map_err(|source| DatasetError::Write { file: path.display().to_string(), source })
}

fn write_lines<I: IntoIterator<Item = String>>(path: &Path, lines: I) -> Result<(), DatasetError> {
    let err = |source| DatasetError::Write { file: path.display().to_string(), source };
    let mut out = open(path)?;
    for line in lines {
        out.write_all(line.as_bytes()).map_err(err)?;
        out.write_all(b"\n").map_err(err)?;
    }
    out.flush().map_err(err)
}

fn json_line<T: Serialize>(item: &T) -> String {
    // Structs of strings and integers always serialize.
    serde_json::to_string(item).unwrap_or_default()
}

/// Writes `n` SFT examples as JSONL: `{"messages":[{"role":"user",…},{"role":"assistant",…}],"task":…}`.
pub fn write_sft_dataset(
    path: &Path,
    n: usize,
    seed: u64,
    mix: &Mix,
    guard: &EvalGuard,
) -> Result<TaskCounts, RecipeDataError> {
    let examples = sft_examples(n, seed, mix, guard)?;
    let mut counts = TaskCounts::new();
    for e in &examples {
        *counts.entry(e.task.clone()).or_default() += 1;
    }
    write_lines(path, examples.iter().map(json_line))?;
    Ok(counts)
}

/// Writes `n` GRPO problems as JSONL in the tasks crate's problem form
/// (`{"prompt","answer","task"[,"numbers","target"],"difficulty","id"}`).
pub fn write_grpo_dataset(
    path: &Path,
    n: usize,
    seed: u64,
    mix: &Mix,
    guard: &EvalGuard,
) -> Result<TaskCounts, RecipeDataError> {
    let problems = grpo_problems(n, seed, mix, guard)?;
    let mut counts = TaskCounts::new();
    for p in &problems {
        *counts.entry(p.task_name().to_string()).or_default() += 1;
    }
    write_lines(path, problems.iter().map(Problem::to_jsonl))?;
    Ok(counts)
}

/// Writes `n` pretraining documents as plain text, one blank line between documents.
/// Returns the number of bytes of text.
pub fn write_pretrain_corpus(path: &Path, n: usize, seed: u64, guard: &EvalGuard) -> Result<usize, RecipeDataError> {
    let docs = pretrain_documents(n, seed, guard);
    let bytes = docs.iter().map(|d| d.len() + 2).sum();
    write_lines(path, docs.into_iter().map(|d| d + "\n"))?;
    Ok(bytes)
}

/// Writes the recipe's evaluation sets into `dir` for `reasoner eval --data`: for each set,
/// `NAME.jsonl` (the generators' wording) and `NAME-heldout.jsonl` (the same problems, each in
/// a held-out wording). Returns the paths written.
pub fn write_eval_sets(dir: &Path, n: usize) -> Result<Vec<std::path::PathBuf>, RecipeDataError> {
    let mut written = Vec::new();
    for set in recipe_eval_sets() {
        let problems = set.problems(n)?;
        let mut held = Vec::with_capacity(problems.len());
        for (i, p) in problems.iter().enumerate() {
            let spec = Spec::from_problem(p)?;
            let mut rng = SplitMix64::for_item(set.seed, 0x4E1D, i as u64);
            let mut q = problem_from_spec(&spec, phrase(&spec, PhrasingSplit::HeldOut, 0.0, &mut rng));
            q.answer = p.answer.clone();
            q.difficulty = p.difficulty;
            q.id = p.id.as_ref().map(|id| format!("{id}-heldout"));
            held.push(q);
        }
        for (suffix, items) in [("", &problems), ("-heldout", &held)] {
            let path = dir.join(format!("{}{suffix}.jsonl", set.name));
            write_lines(&path, items.iter().map(Problem::to_jsonl))?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_mixes_are_named() {
        let mut mix = Mix::sft();
        mix.draws[0].levels = vec![7];
        let e = sft_examples(1, 0, &mix, &EvalGuard::default()).unwrap_err().to_string();
        assert!(e.contains("levels"), "{e}");
        let mix = Mix { instruction_share: 2.0, ..Mix::sft() };
        let e = grpo_problems(1, 0, &mix, &EvalGuard::default()).unwrap_err().to_string();
        assert!(e.contains("instruction_share"), "{e}");
        let bad: Result<Mix, _> = serde_json::from_str(r#"{"draws":[],"oops":1}"#);
        assert!(bad.is_err());
        // Recipes configure mixes from files: the defaults survive a round trip, and a partial
        // mix keeps the other defaults.
        for mix in [Mix::sft(), Mix::grpo()] {
            let text = serde_json::to_string(&mix).unwrap();
            assert_eq!(serde_json::from_str::<Mix>(&text).unwrap(), mix);
        }
        let partial: Mix =
            serde_json::from_str(r#"{"draws":[{"task":"countdown","levels":[3,4],"weight":1.0}],"ood_share":0.1}"#)
                .unwrap();
        assert_eq!(
            (partial.draws[0].task, partial.ood_share, partial.canonical_share),
            (TaskKind::Countdown, 0.1, 0.5)
        );
        let guard: GuardConfig = serde_json::from_str(r#"{"max_n":200}"#).unwrap();
        assert_eq!((guard.seeds.as_slice(), guard.max_n), (&[0u64][..], 200));
    }

    #[test]
    fn seeded_and_varied() {
        let g = EvalGuard::default();
        let a = sft_examples(200, 7, &Mix::sft(), &g).unwrap();
        assert_eq!(a, sft_examples(200, 7, &Mix::sft(), &g).unwrap());
        assert_ne!(a, sft_examples(200, 8, &Mix::sft(), &g).unwrap());
        let tasks: std::collections::BTreeSet<_> = a.iter().map(|e| e.task.as_str()).collect();
        assert_eq!(tasks.len(), 6, "{tasks:?}");
        assert!(a.iter().any(|e| e.prompt().ends_with(DEFAULT_INSTRUCTION)));
        assert!(a.iter().any(|e| !e.prompt().contains("boxed")));
    }
}
