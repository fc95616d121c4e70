//! The tiny-r1 stages in order, each a training run configured by a TOML file in the recipe
//! directory (model, data and output paths filled in here), skipped when done, resumed when
//! killed; then every stage's model scored, a results table and plots written.

use super::evaluate::{StageScore, evaluate_model};
use crate::config::{RunKind, TrainConfig};
use crate::distill::{DistillOptions, distill};
use crate::error::{Result, TrainError};
use crate::plot::{draw_series, plot_run};
use reasoner_engine::SamplingParams;
use reasoner_model::bpe_train::train_tokenizer;
use reasoner_tasks::recipe_data::{
    EvalGuard, GuardConfig, Mix, grpo_problems, recipe_eval_sets, write_grpo_dataset, write_pretrain_corpus,
    write_sft_dataset,
};
use reasoner_tasks::{PromptConfig, RewardConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// recipes/tiny-r1/recipe.toml: data sizes, tokenizer, model shapes, evaluation.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecipePlan {
    pub seed: u64,
    pub vocab_size: usize,
    pub pretrain_docs: usize,
    pub sft_examples: usize,
    pub grpo_problems: usize,
    pub distill_problems: usize,
    pub distill_samples: usize,
    pub eval_n: usize,
    pub eval_max_tokens: usize,
    pub teacher: Shape,
    pub student: Shape,
}

/// A Qwen2-style decoder's size (tied embeddings, qkv bias, SwiGLU, RoPE).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub max_position_embeddings: usize,
}

/// Wall seconds per stage (read back from each stage's DONE file).
pub type StageTimes = BTreeMap<String, f64>;

struct Ctx {
    recipe_dir: PathBuf,
    out: PathBuf,
    progress: bool,
    times: StageTimes,
    /// Stop after this stage (`--stop-after`).
    stop_after: Option<String>,
}

impl Ctx {
    fn done(&self, stage: &str) -> Option<f64> {
        std::fs::read_to_string(self.out.join(stage).join("DONE")).ok().and_then(|t| t.trim().parse().ok())
    }

    fn mark_done(&mut self, stage: &str, secs: f64) -> Result<()> {
        let d = self.out.join(stage);
        std::fs::create_dir_all(&d).map_err(|e| TrainError::io(&d, e))?;
        crate::checkpoint::write_synced(&d.join("DONE"), format!("{secs:.1}\n").as_bytes())?;
        self.times.insert(stage.to_string(), secs);
        Ok(())
    }

    /// Run `f` unless the stage is done; record its wall time.
    fn stage(&mut self, name: &str, f: impl FnOnce(&mut Ctx) -> Result<()>) -> Result<()> {
        if let Some(secs) = self.done(name) {
            eprintln!("[tiny-r1] {name}: done before ({secs:.0} s), skipped");
            self.times.insert(name.to_string(), secs);
            return Ok(());
        }
        eprintln!("[tiny-r1] {name} ...");
        let t = Instant::now();
        f(self)?;
        let secs = t.elapsed().as_secs_f64();
        eprintln!("[tiny-r1] {name}: {secs:.0} s");
        self.mark_done(name, secs)
    }

    /// A training stage: `toml` from the recipe directory with the paths filled in.
    fn train(&mut self, name: &str, toml: &str, kind: RunKind, start: Start, data: &Path) -> Result<()> {
        let cfg_path = self.recipe_dir.join(toml);
        let (out, progress) = (self.out.join(name), self.progress);
        self.stage(name, |_| {
            let mut cfg = TrainConfig::read(&cfg_path)?;
            match start {
                Start::Init { config, tokenizer } => {
                    cfg.model.path = None;
                    cfg.model.init = Some(config);
                    cfg.model.tokenizer = Some(tokenizer);
                }
                Start::From(dir) => {
                    cfg.model.init = None;
                    cfg.model.path = Some(dir);
                }
            }
            match kind {
                RunKind::Grpo => cfg.grpo.get_or_insert_with(Default::default).data = Some(data.to_path_buf()),
                _ => cfg.data.train = Some(data.to_path_buf()),
            }
            cfg.set_kind(kind, &cfg_path)?;
            // A stage killed part-way resumes from its newest checkpoint.
            let resume = out.join("metrics.jsonl").exists() || out.join("checkpoints").exists();
            crate::train(cfg, &out, resume, progress)?;
            Ok(())
        })
    }

    fn stop_here(&self, stage: &str) -> bool {
        self.stop_after.as_deref() == Some(stage)
    }

    fn final_dir(&self, stage: &str) -> PathBuf {
        self.out.join(stage).join("final")
    }
}

enum Start {
    Init { config: PathBuf, tokenizer: PathBuf },
    From(PathBuf),
}

/// The stages, in order.
pub const STAGES: &[&str] = &[
    "data",
    "tokenizer",
    "pretrain",
    "sft",
    "grpo",
    "distill-data",
    "student-pretrain",
    "student-distill",
    "student-sft",
    "student-rl",
    "eval",
];

/// Run the recipe into `out` (up to `stop_after` when given); returns the results table's
/// path, or `None` when it stopped early.
pub fn run_recipe(recipe_dir: &Path, out: &Path, progress: bool, stop_after: Option<&str>) -> Result<Option<PathBuf>> {
    if let Some(s) = stop_after
        && !STAGES.contains(&s)
    {
        return Err(TrainError::UnknownStage {
            stage: s.to_string(),
            stages: STAGES.iter().map(|s| s.to_string()).collect(),
        });
    }
    let plan_path = recipe_dir.join("recipe.toml");
    let text = std::fs::read_to_string(&plan_path).map_err(|e| TrainError::io(&plan_path, e))?;
    let plan: RecipePlan =
        toml::from_str(&text).map_err(|e| TrainError::Config { path: plan_path.clone(), message: e.to_string() })?;
    let mut ctx = Ctx {
        recipe_dir: recipe_dir.to_path_buf(),
        out: out.to_path_buf(),
        progress,
        times: StageTimes::new(),
        stop_after: stop_after.map(str::to_string),
    };
    let data = out.join("data");
    let tok_dir = out.join("tokenizer");
    let data_err = |e: reasoner_tasks::recipe_data::RecipeDataError| TrainError::Invalid(format!("recipe data: {e}"));

    ctx.stage("data", |_| {
        std::fs::create_dir_all(&data).map_err(|e| TrainError::io(&data, e))?;
        let guard = EvalGuard::build(&GuardConfig::default()).map_err(|e| TrainError::Invalid(e.to_string()))?;
        write_pretrain_corpus(&data.join("pretrain.txt"), plan.pretrain_docs, plan.seed, &guard).map_err(data_err)?;
        write_sft_dataset(&data.join("sft.jsonl"), plan.sft_examples, plan.seed + 1, &Mix::sft(), &guard)
            .map_err(data_err)?;
        write_grpo_dataset(&data.join("grpo.jsonl"), plan.grpo_problems, plan.seed + 2, &Mix::grpo(), &guard)
            .map_err(data_err)?;
        Ok(())
    })?;
    if ctx.stop_here("data") {
        return Ok(None);
    }
    ctx.stage("tokenizer", |_| {
        let trained = train_tokenizer(&[data.join("pretrain.txt"), data.join("sft.jsonl")], plan.vocab_size, &tok_dir)?;
        let generation = json!({"bos_token_id": 0, "eos_token_id": 1, "do_sample": true, "temperature": 0.6, "top_p": 0.95, "max_new_tokens": plan.eval_max_tokens});
        crate::checkpoint::write_synced(&tok_dir.join("generation_config.json"), generation.to_string().as_bytes())?;
        for (name, shape) in [("teacher", &plan.teacher), ("student", &plan.student)] {
            let cfg = model_config(shape, trained.vocab_size);
            crate::checkpoint::write_synced(&out.join(format!("{name}.config.json")), serde_json::to_string_pretty(&cfg).unwrap_or_default().as_bytes())?;
        }
        Ok(())
    })?;
    if ctx.stop_here("tokenizer") {
        return Ok(None);
    }
    let init = |who: &str| Start::Init { config: out.join(format!("{who}.config.json")), tokenizer: tok_dir.clone() };

    ctx.train("pretrain", "pretrain.toml", RunKind::Pretrain, init("teacher"), &data.join("pretrain.txt"))?;
    if ctx.stop_here("pretrain") {
        return Ok(None);
    }
    ctx.train("sft", "sft.toml", RunKind::Sft, Start::From(ctx.final_dir("pretrain")), &data.join("sft.jsonl"))?;
    if ctx.stop_here("sft") {
        return Ok(None);
    }
    ctx.train("grpo", "grpo.toml", RunKind::Grpo, Start::From(ctx.final_dir("sft")), &data.join("grpo.jsonl"))?;
    if ctx.stop_here("grpo") {
        return Ok(None);
    }

    // Distillation: the RL teacher's correct traces on fresh problems of the SFT mix.
    let teacher_dir = ctx.final_dir("grpo");
    ctx.stage("distill-data", |_| {
        let guard = EvalGuard::build(&GuardConfig::default()).map_err(|e| TrainError::Invalid(e.to_string()))?;
        let problems = grpo_problems(plan.distill_problems, plan.seed + 3, &Mix::sft(), &guard).map_err(data_err)?;
        let teacher = reasoner_model::load_model(&teacher_dir)?;
        let opts = DistillOptions {
            samples: plan.distill_samples,
            params: SamplingParams {
                temperature: 0.6,
                top_p: 0.95,
                seed: plan.seed,
                max_tokens: plan.eval_max_tokens,
                ..SamplingParams::default()
            },
            batch: 16,
            keep_per_problem: 1,
            prompt: PromptConfig::default(),
            reward: RewardConfig::default(),
        };
        let stats = distill(&teacher, &problems, &opts, &data.join("distill.jsonl"), |_| {})?;
        let table: BTreeMap<_, _> = stats
            .iter()
            .map(|(k, s)| (k.clone(), json!({"sampled": s.sampled, "correct": s.accepted, "kept": s.kept})))
            .collect();
        crate::checkpoint::write_synced(
            &data.join("distill-acceptance.json"),
            serde_json::to_string_pretty(&table).unwrap_or_default().as_bytes(),
        )
    })?;
    if ctx.stop_here("distill-data") {
        return Ok(None);
    }
    ctx.train(
        "student-pretrain",
        "student-pretrain.toml",
        RunKind::Pretrain,
        init("student"),
        &data.join("pretrain.txt"),
    )?;
    if ctx.stop_here("student-pretrain") {
        return Ok(None);
    }
    ctx.train(
        "student-distill",
        "student-sft.toml",
        RunKind::Sft,
        Start::From(ctx.final_dir("student-pretrain")),
        &data.join("distill.jsonl"),
    )?;
    if ctx.stop_here("student-distill") {
        return Ok(None);
    }
    ctx.train(
        "student-sft",
        "student-sft.toml",
        RunKind::Sft,
        Start::From(ctx.final_dir("student-pretrain")),
        &data.join("sft.jsonl"),
    )?;
    if ctx.stop_here("student-sft") {
        return Ok(None);
    }
    ctx.train(
        "student-rl",
        "student-grpo.toml",
        RunKind::Grpo,
        Start::From(ctx.final_dir("student-sft")),
        &data.join("grpo.jsonl"),
    )?;
    if ctx.stop_here("student-rl") {
        return Ok(None);
    }

    // Scores of every stage on the held-out sets.
    let stages = ["pretrain", "sft", "grpo", "student-distill", "student-sft", "student-rl"];
    let scores_path = out.join("scores.json");
    let eval_dirs: Vec<(String, PathBuf)> = stages.iter().map(|s| (s.to_string(), ctx.final_dir(s))).collect();
    ctx.stage("eval", |_| {
        let mut all: BTreeMap<String, Vec<StageScore>> = BTreeMap::new();
        for (stage, dir) in &eval_dirs {
            let model = reasoner_model::load_model(dir)?;
            let mut rows = Vec::new();
            for set in recipe_eval_sets() {
                let problems = set.problems(plan.eval_n).map_err(|e| TrainError::Invalid(e.to_string()))?;
                let s = evaluate_model(&model, &set.name, &problems, plan.eval_max_tokens, plan.seed)?;
                eprintln!("[tiny-r1] eval {stage} {}: pass@1 {:.3}", set.name, s.pass_at_1);
                rows.push(s);
            }
            all.insert(stage.clone(), rows);
        }
        crate::checkpoint::write_synced(&scores_path, serde_json::to_string_pretty(&all).unwrap_or_default().as_bytes())
    })?;
    write_report(out, &stages, &ctx.times, &plan).map(Some)
}

fn model_config(s: &Shape, vocab: usize) -> serde_json::Value {
    json!({
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": vocab,
        "hidden_size": s.hidden_size,
        "intermediate_size": s.intermediate_size,
        "num_hidden_layers": s.num_hidden_layers,
        "num_attention_heads": s.num_attention_heads,
        "num_key_value_heads": s.num_key_value_heads,
        "max_position_embeddings": s.max_position_embeddings,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "hidden_act": "silu",
        "tie_word_embeddings": true,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "torch_dtype": "float32"
    })
}

/// results.md (accuracy per stage and set, stage times) and plots.
fn write_report(out: &Path, stages: &[&str], times: &StageTimes, plan: &RecipePlan) -> Result<PathBuf> {
    let scores_path = out.join("scores.json");
    let text = std::fs::read_to_string(&scores_path).map_err(|e| TrainError::io(&scores_path, e))?;
    let scores: BTreeMap<String, Vec<StageScore>> = serde_json::from_str(&text)
        .map_err(|e| TrainError::Data { path: scores_path.clone(), message: e.to_string() })?;
    let sets: Vec<String> =
        scores.values().next().map(|v| v.iter().map(|s| s.set.clone()).collect()).unwrap_or_default();
    let mut md = format!(
        "# tiny-r1 results\n\npass@1 on {} held-out problems per set (temperature 0.6, top-p 0.95, one sample each, at most {} tokens).\n\n| stage | {} | mean tokens |\n|---|{}---|\n",
        plan.eval_n,
        plan.eval_max_tokens,
        sets.join(" | "),
        "---|".repeat(sets.len())
    );
    for st in stages {
        let Some(rows) = scores.get(*st) else { continue };
        let cells: Vec<String> = rows.iter().map(|r| format!("{:.0}%", 100.0 * r.pass_at_1)).collect();
        let mean_tokens = rows.iter().map(|r| r.mean_tokens).sum::<f64>() / rows.len().max(1) as f64;
        md.push_str(&format!("| {st} | {} | {mean_tokens:.0} |\n", cells.join(" | ")));
    }
    md.push_str("\n## Stage wall times (s)\n\n| stage | seconds |\n|---|---|\n");
    let mut total = 0.0;
    for (k, v) in times {
        md.push_str(&format!("| {k} | {v:.0} |\n"));
        total += v;
    }
    md.push_str(&format!("| **total** | {total:.0} |\n"));
    let md_path = out.join("results.md");
    crate::checkpoint::write_synced(&md_path, md.as_bytes())?;

    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| TrainError::io(&plots, e))?;
    let series: Vec<(String, Vec<(f64, f64)>)> = sets
        .iter()
        .enumerate()
        .map(|(j, set)| {
            let pts = stages
                .iter()
                .enumerate()
                .filter_map(|(i, st)| Some((i as f64, scores.get(*st)?.get(j)?.pass_at_1)))
                .collect();
            (set.clone(), pts)
        })
        .collect();
    let stage_axis = format!(
        "stage ({})",
        stages.iter().enumerate().map(|(i, s)| format!("{i} {s}")).collect::<Vec<_>>().join(", ")
    );
    draw_series(&series, "pass@1", &stage_axis, &plots.join("accuracy_by_stage.png"))
        .map_err(|message| TrainError::Plot { path: plots.join("accuracy_by_stage.png"), message })?;
    let students: Vec<(String, Vec<(f64, f64)>)> = ["student-distill", "student-rl"]
        .iter()
        .filter_map(|st| {
            Some((st.to_string(), scores.get(*st)?.iter().enumerate().map(|(j, r)| (j as f64, r.pass_at_1)).collect()))
        })
        .collect();
    let set_axis =
        format!("set ({})", sets.iter().enumerate().map(|(i, s)| format!("{i} {s}")).collect::<Vec<_>>().join(", "));
    draw_series(&students, "pass@1", &set_axis, &plots.join("students.png"))
        .map_err(|message| TrainError::Plot { path: plots.join("students.png"), message })?;
    let grpo_keys = ["reward_mean", "accuracy", "response_length"].map(String::from);
    plot_run(&out.join("grpo"), &grpo_keys, Some(&plots.join("grpo")))?;
    Ok(md_path)
}
