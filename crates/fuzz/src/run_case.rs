//! What the worker does with one case: the same load and parse functions the commands call
//! (`load_model` then a two-token forward, the tokenizer and template as `chat` uses them,
//! `quantize_model`, the eval and SFT dataset readers, the training config check), or the
//! `reasoner` binary itself for command-line cases. Errors are fine; panics are findings.

use reasoner_model::chat_template::{ChatMessage, ChatTemplate};
use reasoner_model::formats::quantize::{QuantizeOptions, quantize_model};
use reasoner_model::quant::GgmlType;
use reasoner_model::tokenizer::{TextTokenizer, TokenizerConfig};
use reasoner_model::{LoadedModel, LogitsFor, SeqInput, load_model};
use reasoner_tasks::dataset::{LoadOptions, load_jsonl};
use reasoner_train::config::DataSection;
use reasoner_train::{RunKind, TrainConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::formats::Format;

/// How one case ended. `Ok` and `Error` are fine; the rest are findings.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok,
    Error(String),
    /// An error with no message.
    Silent,
    Panic(String),
    /// A signal or abort (stack overflow, failed allocation).
    Crash(String),
    Hang(String),
}

impl Outcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error(_) => "error",
            Outcome::Silent => "silent-error",
            Outcome::Panic(_) => "panic",
            Outcome::Crash(_) => "crash",
            Outcome::Hang(_) => "hang",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            Outcome::Error(s) | Outcome::Panic(s) | Outcome::Crash(s) | Outcome::Hang(s) => s,
            Outcome::Ok | Outcome::Silent => "",
        }
    }

    pub fn is_finding(&self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Error(_))
    }

    pub fn from_parts(kind: &str, detail: String) -> Self {
        match kind {
            "ok" => Outcome::Ok,
            "error" => Outcome::Error(detail),
            "silent-error" => Outcome::Silent,
            "panic" => Outcome::Panic(detail),
            "hang" => Outcome::Hang(detail),
            _ => Outcome::Crash(detail),
        }
    }
}

/// What the worker keeps between cases: the model the SFT reader tokenizes with.
pub struct WorkerState {
    pub root: PathBuf,
    pub reasoner: PathBuf,
    sft_model: Option<LoadedModel>,
}

impl WorkerState {
    pub fn new(root: PathBuf, reasoner: PathBuf) -> Self {
        Self { root, reasoner, sft_model: None }
    }
}

type Step = std::result::Result<(), String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn conversation() -> Vec<ChatMessage> {
    let mut answer = ChatMessage::new("assistant", "The answer is 4.");
    answer.reasoning_content = Some("2 + 2 = 4".into());
    vec![
        ChatMessage::new("system", "You are terse."),
        ChatMessage::new("user", "What is 2 + 2?"),
        answer,
        ChatMessage::new("user", "And 3 + 3? <think>ignore</think>"),
    ]
}

fn exercise_template(t: &ChatTemplate) -> Step {
    t.render(&conversation(), true, &Default::default()).map(drop).map_err(err)
}

fn exercise_tokenizer(t: &TextTokenizer) -> Step {
    for text in ["Hello, world! 347 + 589 = 936.", "<think>\nx\n</think>\n\n\\boxed{12}", "ÿ\u{0}\u{202e}日本語🙂", ""]
    {
        let ids = t.encode(text, true).map_err(err)?;
        t.decode(&ids, false).map_err(err)?;
    }
    let v = t.vocab_size() as u32;
    // Ids past the vocabulary, as a client may send them: an error or a skip, never a panic.
    let _ = t.decode(&[0, v.saturating_sub(1), v, v.saturating_add(1), u32::MAX], true);
    Ok(())
}

/// Load as `reasoner info/generate` do, then a two-token forward, tokenizer and template.
fn exercise_model(path: &Path) -> Step {
    let m = load_model(path).map_err(err)?;
    let mut cache = m.new_cache();
    m.model.forward(&mut [SeqInput { tokens: &[1, 2], cache: Some(&mut cache) }], LogitsFor::Last).map_err(err)?;
    if let Some(t) = &m.tokenizer {
        exercise_tokenizer(t)?;
    }
    if let Some(t) = &m.chat_template {
        exercise_template(t)?;
    }
    Ok(())
}

fn exercise_quantize(path: &Path, variant: u64) -> Step {
    let out = std::env::temp_dir().join(format!("reasoner-fuzz-{}-quantized.gguf", std::process::id()));
    let to = [GgmlType::Q8_0, GgmlType::Q4K, GgmlType::F16, GgmlType::Q6K][(variant % 4) as usize];
    let opts = QuantizeOptions { to, keep: Vec::new() };
    let result = quantize_model(path, &out, &opts, &mut |_, _, _| {});
    let _ = std::fs::remove_file(&out);
    result.map(drop).map_err(err)
}

fn exercise_jsonl(state: &mut WorkerState, path: &Path, variant: u64) -> Step {
    let strict = load_jsonl(path, &LoadOptions { skip_bad: false });
    let lenient = load_jsonl(path, &LoadOptions { skip_bad: true }).map_err(err);
    if state.sft_model.is_none() {
        state.sft_model = Some(load_model(&state.root.join("models/tiny-r1")).map_err(err)?);
    }
    let Some(model) = &state.sft_model else { return Ok(()) };
    let kind = if variant.is_multiple_of(2) { RunKind::Sft } else { RunKind::Pretrain };
    let data = DataSection { train: Some(path.to_path_buf()), max_seq_len: 64, template: !variant.is_multiple_of(3) };
    let sft = reasoner_train::data::load_examples(path, model, &data, kind).map(drop).map_err(err);
    // A problems file is not an SFT file and the other way round: fine when either reader took it.
    match (strict, lenient, sft) {
        (Ok(_), _, _) | (_, _, Ok(())) => Ok(()),
        (Err(e), _, _) => Err(e.to_string()),
    }
}

/// Runs the `reasoner` binary with the case's arguments, under the worker's memory limit.
fn exercise_cli(state: &WorkerState, path: &Path, timeout: Duration) -> crate::run_case::Outcome {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let Ok(args) = serde_json::from_slice::<Vec<String>>(&text) else {
        return Outcome::Error("not an argument vector".into());
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let root = state.root.display().to_string();
    let args: Vec<String> =
        args.iter().map(|a| a.replace("{root}", &root).replace("{tmp}", &dir.display().to_string())).collect();
    if args.iter().any(|a| a.contains('\0')) {
        return Outcome::Error("an argument with a NUL byte cannot be passed to a program".into());
    }
    let stderr_path = dir.join("stderr.txt");
    let stdout_path = dir.join("stdout.txt");
    let Ok(stdout) = std::fs::File::create(&stdout_path) else {
        return Outcome::Error("cannot create stdout file".into());
    };
    let Ok(stderr) = std::fs::File::create(&stderr_path) else {
        return Outcome::Error("cannot create stderr file".into());
    };
    let child = Command::new(&state.reasoner)
        .args(&args)
        .current_dir(dir)
        .env("REASONER_THREADS", "1")
        .env("RAYON_NUM_THREADS", "1")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Outcome::Crash(format!("cannot start {}: {e}", state.reasoner.display())),
    };
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::Hang(format!("reasoner {args:?} ran past {timeout:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Outcome::Crash(e.to_string()),
        }
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let tail: String = stderr.chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Outcome::Ok,
        (_, _) if stderr.contains("panicked at") => Outcome::Panic(format!("reasoner {args:?}: {tail}")),
        (Some(101), _) => Outcome::Panic(format!("reasoner {args:?}: exit 101: {tail}")),
        // `grade` answers false with exit status 1 and its verdict on stdout.
        (Some(_), _) if stderr.trim().is_empty() && std::fs::metadata(&stdout_path).map_or(0, |m| m.len()) == 0 => {
            Outcome::Silent
        }
        (Some(_), _) => Outcome::Error(tail),
        (None, sig) => Outcome::Crash(format!("reasoner {args:?}: signal {sig:?}: {tail}")),
    }
}

/// Runs one laid-out case; `variant` (from the case's hash) picks among a format's entry points.
pub fn run(state: &mut WorkerState, format: Format, target: &Path, variant: u64, cli_timeout: Duration) -> Outcome {
    let step: Step = match format {
        Format::Gguf | Format::Safetensors | Format::Config => {
            let loaded = exercise_model(target);
            if variant.is_multiple_of(4) { exercise_quantize(target, variant / 4).and(loaded) } else { loaded }
        }
        Format::Tokenizer => {
            TextTokenizer::load(target, &TokenizerConfig::default()).map_err(err).and_then(|t| exercise_tokenizer(&t))
        }
        Format::Template => match std::fs::read(target).map(String::from_utf8) {
            Ok(Ok(src)) => ChatTemplate::new(&src, &target.display().to_string(), Some("<s>"), Some("</s>"))
                .map_err(err)
                .and_then(|t| exercise_template(&t)),
            Ok(Err(e)) => Err(format!("not UTF-8: {e}")),
            Err(e) => Err(e.to_string()),
        },
        Format::Jsonl => exercise_jsonl(state, target, variant),
        Format::TrainConfig => TrainConfig::read_checked(target).map(drop).map_err(err),
        Format::Cli => return exercise_cli(state, target, cli_timeout),
    };
    match step {
        Ok(()) => Outcome::Ok,
        Err(e) if e.trim().is_empty() => Outcome::Silent,
        Err(e) => Outcome::Error(e),
    }
}
