//! `reasoner eval`: score a model on generated problems (`--task NAME --n N`) or a JSONL benchmark
//! (`--data FILE`, ours / GSM8K / MATH / AIME): K samples per item through the batched engine,
//! graded by reasoner-tasks; a summary table (or one `--json` object), per-item JSONL and a PNG.
//!
//! Seeds: sample k of every item is drawn with seed `--seed + k`, so one seed reproduces a whole
//! run whatever the batch size; generated problems use `--problem-seed` (default `--seed`).

use crate::compute_args::ComputeArgs;
use crate::model_arg;
use crate::sampling_args::{SamplingArgs, fit_context};
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{Engine, GenerationRequest};
use reasoner_model::LoadedModel;
use reasoner_model::chat_template::ChatMessage;
use reasoner_tasks::{
    DatasetError, GenOptions, LoadOptions, Problem, PromptConfig, SampledResponse, build_prompt, evaluate_all,
    format_summary_table, generate_named, load_jsonl, plot_accuracy, summarize, summarize_groups, with_prompt_think,
    write_jsonl,
};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args)]
pub struct EvalArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    /// A generated task: add, sub, mul, linear, countdown or mixed.
    #[arg(long, required_unless_present = "data", conflicts_with = "data", requires = "n")]
    pub task: Option<String>,
    /// Problems to evaluate: with --task, N per difficulty level; with --data, the first N items.
    #[arg(long)]
    pub n: Option<usize>,
    /// Difficulty of generated problems, 1 to 5 (default 2); a list `1,3` or range `1-5`
    /// generates N problems at each level.
    #[arg(long, conflicts_with = "data")]
    pub difficulty: Option<String>,
    /// Seed of the generated problem set [default: --seed, else 0]
    #[arg(long, conflicts_with = "data")]
    pub problem_seed: Option<u64>,
    /// A JSONL file of problems: ours {"prompt","answer",...}, GSM8K, MATH / MATH-500 or AIME.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Skip malformed lines of --data (each is reported on stderr) instead of failing.
    #[arg(long, conflicts_with = "task")]
    pub skip_bad: bool,
    /// Samples per problem (K): pass@1 is averaged over them, cons@K is their majority vote.
    #[arg(long, default_value_t = 1)]
    pub samples: usize,
    /// Print only the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write per-item results (every sample, its extracted answer and grade) as JSONL.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a PNG of pass@1 by task and difficulty (default: next to --out, as FILE.png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Sequences generated together in one batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Instruction appended to every problem (default: R1's "Please reason step by step, and
    /// put your final answer within \boxed{}.").
    #[arg(long, conflicts_with = "no_instruction")]
    pub instruction: Option<String>,
    /// Send the problem text alone.
    #[arg(long)]
    pub no_instruction: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// One prompt as the model sees it.
struct EncodedPrompt {
    ids: Vec<u32>,
    think_open: bool,
}

pub fn run(a: EvalArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| evaluate(a))
}

/// Ceilings far past any evaluation that can finish (a million problems, or a thousand samples
/// each), so that a typo is refused at once instead of aborting on the allocation.
const MAX_PROBLEMS: usize = 1_000_000;
const MAX_SAMPLES: usize = 1024;

fn evaluate(a: EvalArgs) -> Result<()> {
    if a.samples == 0 {
        bail!("--samples must be at least 1");
    }
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if a.n == Some(0) {
        bail!("--n must be at least 1");
    }
    if a.samples > MAX_SAMPLES {
        bail!("--samples {}: at most {MAX_SAMPLES} per problem", a.samples);
    }
    if let Some(n) = a.n.filter(|&n| n > MAX_PROBLEMS) {
        bail!("--n {n}: at most {MAX_PROBLEMS} problems (per difficulty level with --task)");
    }
    let (problems, label) = load_problems(&a)?;
    let prompt_cfg = PromptConfig {
        instruction: match (&a.instruction, a.no_instruction) {
            (_, true) => String::new(),
            (Some(text), false) => text.clone(),
            (None, false) => PromptConfig::default().instruction,
        },
    };

    let m = model_arg::open_with_cache(&a.model, a.kv_cache, a.load)?;
    let params = a.sampling.resolve(&m.generation)?;
    if m.chat_template.is_none() {
        eprintln!("note: {} has no chat template; prompts are fed as plain text", m.path.display());
    }
    let prompts: Vec<EncodedPrompt> =
        problems.iter().map(|p| encode_prompt(&m, &build_prompt(p, &prompt_cfg))).collect::<Result<_>>()?;

    // Item-major order: item i's K samples sit next to each other (same prompt, seeds base + k).
    // Each prompt's replies stop at the context window (reason `length`, counted as truncated).
    let context = m.model.info().max_positions;
    let mut requests: Vec<GenerationRequest> = Vec::with_capacity(prompts.len() * a.samples);
    for (p, problem) in prompts.iter().zip(&problems) {
        let mut fitted = params.clone();
        fit_context(&mut fitted, p.ids.len(), context)
            .with_context(|| format!("problem {}", problem.id.as_deref().unwrap_or("?")))?;
        for k in 0..a.samples {
            let mut params = fitted.clone();
            params.seed = params.seed.wrapping_add(k as u64);
            requests.push(GenerationRequest {
                prompt_ids: p.ids.clone(),
                params,
                stop: Vec::new(),
                think_open: p.think_open,
            });
        }
    }

    let engine = Engine::new(&m);
    let tok = m.tokenizer.as_ref().with_context(|| format!("{}: no tokenizer.json", m.path.display()))?;
    let bar = progress_bar(requests.len() as u64);
    let started = Instant::now();
    let (mut gen_tokens, mut truncated) = (0usize, 0usize);
    let mut responses: Vec<SampledResponse> = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(a.batch) {
        // Long reasoning traces keep a batch busy for minutes: keep the rate moving meanwhile
        // (text pieces stand in for tokens until the batch reports its exact counts).
        let mut pieces = 0usize;
        let (done, _stats) = engine.generate(chunk, |_, _| {
            pieces += 1;
            if pieces.is_multiple_of(32) {
                bar.set_message(rate(gen_tokens + pieces, started));
            }
        })?;
        for (req, c) in chunk.iter().zip(&done) {
            gen_tokens += c.completion_tokens;
            truncated += usize::from(c.finish_reason == "length");
            responses.push(SampledResponse {
                text: response_text(tok.decode(&c.token_ids, false)?, req.think_open),
                tokens: c.completion_tokens,
                think_tokens: c.reasoning_tokens,
            });
        }
        bar.inc(chunk.len() as u64);
        bar.set_message(rate(gen_tokens, started));
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let tokens_per_sec = if secs > 0.0 { gen_tokens as f64 / secs } else { 0.0 };

    let grouped: Vec<Vec<SampledResponse>> = responses.chunks(a.samples).map(<[_]>::to_vec).collect();
    let items = evaluate_all(&problems, &grouped);
    let overall = summarize(&label, &items);
    let groups = summarize_groups(&items);

    if let Some(out) = &a.out {
        create_parent(out, "--out")?;
        // The tasks crate's message already names the file and the OS error.
        write_jsonl(out, &items).map_err(|e| anyhow::anyhow!("--out: {e}"))?;
        eprintln!("wrote {} ({} items)", out.display(), items.len());
    }
    if let Some(plot) = a.plot.clone().or_else(|| a.out.as_deref().map(default_plot_path)) {
        let model_name =
            m.path.file_name().map_or_else(|| m.path.display().to_string(), |n| n.to_string_lossy().into());
        let title = format!("{label}: pass@1 by task and difficulty ({model_name}, K={})", a.samples);
        create_parent(&plot, "--plot")?;
        plot_accuracy(&groups, &plot, &title).map_err(|e| anyhow::anyhow!("--plot: {e}"))?;
        eprintln!("wrote {}", plot.display());
    }

    if a.json {
        let mut v = serde_json::to_value(&overall)?;
        v["tokens_per_sec"] = serde_json::json!(tokens_per_sec);
        v["seed"] = serde_json::json!(params.seed);
        println!("{v}");
    } else {
        print!("{}", format_summary_table(&groups, Some(&overall)));
        println!(
            "{gen_tokens} tokens in {secs:.1}s ({tokens_per_sec:.1} tokens/s); {truncated} of {} samples hit --max-tokens {}; --seed {} repeats this run",
            requests.len(),
            params.max_tokens,
            params.seed
        );
    }
    Ok(())
}

/// The problems to evaluate and the name the summary goes under.
fn load_problems(a: &EvalArgs) -> Result<(Vec<Problem>, String)> {
    if let Some(task) = &a.task {
        let n = a.n.context("--task needs --n N")?;
        let levels = match &a.difficulty {
            Some(text) => parse_levels(text).context("--difficulty")?,
            None => vec![GenOptions::default().difficulty],
        };
        let seed = a.problem_seed.or(a.sampling.seed).unwrap_or(0);
        let mut problems = Vec::with_capacity(n * levels.len());
        for &difficulty in &levels {
            let opts = GenOptions { seed, difficulty, ..GenOptions::default() };
            let mut set = generate_named(task, n, &opts).with_context(|| format!("--task {task}"))?;
            if levels.len() > 1 {
                // Generator ids name task, seed and index; keep them unique across levels.
                for p in &mut set {
                    p.id = p.id.take().map(|id| format!("{id}-d{difficulty}"));
                }
            }
            problems.extend(set);
        }
        return Ok((problems, task.trim().to_ascii_lowercase()));
    }
    let Some(path) = &a.data else { bail!("give --task NAME --n N or --data FILE.jsonl") };
    let loaded = load_jsonl(path, &LoadOptions { skip_bad: a.skip_bad }).map_err(|e| {
        let hint = matches!(e, DatasetError::BadLine { .. }).then_some(" (pass --skip-bad to skip malformed lines)");
        anyhow::anyhow!("--data: {e}{}", hint.unwrap_or_default())
    })?;
    const SHOWN: usize = 20;
    for bad in loaded.bad_lines.iter().take(SHOWN) {
        eprintln!("warning: {}:{}: {} (skipped)", path.display(), bad.line, bad.message);
    }
    if loaded.skipped > SHOWN {
        eprintln!("warning: … and {} more malformed lines skipped", loaded.skipped - SHOWN);
    }
    let mut problems = loaded.problems;
    // A row of ours without `task` is still ours: countdown when it carries numbers and a
    // target, else the plain `jsonl` task (graded as a math answer), never "unknown".
    for p in problems.iter_mut().filter(|p| p.task.as_deref().is_none_or(|t| t.trim().is_empty())) {
        p.task = Some(if p.countdown_spec().is_some() { "countdown" } else { "jsonl" }.into());
    }
    if let Some(n) = a.n {
        problems.truncate(n);
    }
    if problems.is_empty() {
        bail!("{}: no problems to evaluate", path.display());
    }
    // One task in the file names the run; a mix goes under the file's name.
    let first = problems[0].task_name().to_string();
    let label = if problems.iter().all(|p| p.task_name() == first) {
        first
    } else {
        path.file_stem().map_or_else(|| "data".to_string(), |s| s.to_string_lossy().into_owned())
    };
    Ok((problems, label))
}

/// `3`, `1,3,5` or `1-5`; levels out of range are refused by the generators.
fn parse_levels(text: &str) -> Result<Vec<u8>> {
    let mut levels: Vec<u8> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let level = |s: &str| s.trim().parse::<u8>().with_context(|| format!("'{s}' is not a level (1 to 5)"));
        let range = match part.split_once('-') {
            Some((lo, hi)) => level(lo)?..=level(hi)?,
            None => level(part)?..=level(part)?,
        };
        if range.is_empty() {
            bail!("'{part}' is an empty range");
        }
        for l in range {
            if !levels.contains(&l) {
                levels.push(l);
            }
        }
    }
    if levels.is_empty() {
        bail!("no level given");
    }
    Ok(levels)
}

/// The problem as a user message in the model's chat template (plain text when it has none).
fn encode_prompt(m: &LoadedModel, user: &str) -> Result<EncodedPrompt> {
    if m.chat_template.is_none() {
        let tok = m.tokenizer.as_ref().with_context(|| format!("{}: no tokenizer.json", m.path.display()))?;
        return Ok(EncodedPrompt { ids: tok.encode(user, true)?, think_open: false });
    }
    let p = chat_prompt(m, &[ChatMessage::new("user", user)], &Default::default())?;
    Ok(EncodedPrompt { ids: p.ids, think_open: p.think_open })
}

/// The text graded and saved: every generated token decoded (exactly what the model wrote; the
/// reasoning parser's split drops whitespace around the tags), with the `<think>` its template
/// opened put back in front, so an answer inside unfinished thinking never counts.
fn response_text(decoded: String, think_open: bool) -> String {
    if think_open { with_prompt_think(&decoded) } else { decoded }
}

/// `results.jsonl` → `results.png` (`x.png` → `x.png.png`, never the results file itself).
fn default_plot_path(out: &Path) -> PathBuf {
    let plot = out.with_extension("png");
    if plot == out {
        let mut name = out.as_os_str().to_owned();
        name.push(".png");
        PathBuf::from(name)
    } else {
        plot
    }
}

fn rate(tokens: usize, started: Instant) -> String {
    format!("{tokens} tokens, {:.1} tok/s", tokens as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

fn create_parent(path: &Path, flag: &str) -> Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).with_context(|| format!("{flag}: cannot create {}", dir.display())),
        None => Ok(()),
    }
}

fn progress_bar(total: u64) -> ProgressBar {
    // indicatif draws on stderr only when it is a terminal.
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("eval {bar:30} {pos}/{len} samples [{elapsed_precise} < {eta_precise}] {msg}")
    {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse() {
        assert_eq!(parse_levels("3").unwrap(), vec![3]);
        assert_eq!(parse_levels("1-3, 5,2").unwrap(), vec![1, 2, 3, 5]);
        assert!(parse_levels("3-1").is_err());
        assert!(parse_levels("x").is_err());
        assert!(parse_levels("").is_err());
    }

    #[test]
    fn plot_goes_next_to_results() {
        assert_eq!(default_plot_path(Path::new("runs/r.jsonl")), PathBuf::from("runs/r.png"));
        assert_eq!(default_plot_path(Path::new("r")), PathBuf::from("r.png"));
        assert_eq!(default_plot_path(Path::new("r.png")), PathBuf::from("r.png.png"));
    }

    #[test]
    fn answers_inside_opened_thinking_do_not_count() {
        let text = response_text("so \\boxed{4}".into(), true);
        assert_eq!(text, "<think>so \\boxed{4}");
        assert_eq!(reasoner_tasks::grade_text("4", &text, None).unwrap().extracted, None);
        let text = response_text("so 4</think>\\boxed{4}".into(), true);
        assert!(reasoner_tasks::grade_text("4", &text, None).unwrap().correct);
        assert_eq!(response_text("\\boxed{4}".into(), false), "\\boxed{4}");
    }
}
