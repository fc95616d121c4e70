//! The `reasoner` binary: thin commands over the model, engine and tasks crates.
//! Errors reach stderr with the file, key or flag at fault, and a non-zero exit code.

mod commands;
mod compute_args;
mod decode_args;
mod embedded_model;
mod hf_cache;
mod human;
mod model_arg;
mod sampling_args;
mod version;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "reasoner", version, about = "Local, private reasoning models: run, score, inspect.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Interactive chat with line editing and history (piped stdin is one message).
    Chat(commands::chat::ChatArgs),
    /// Generate one completion for a prompt.
    Generate(commands::generate::GenerateArgs),
    /// Log-probabilities of a token sequence, as JSON.
    Logprobs(commands::logprobs::LogprobsArgs),
    /// Token ids of a text, exactly as `logprobs --text` tokenizes it.
    Tokenize(commands::tokenize::TokenizeArgs),
    /// The text of a list of token ids.
    Detokenize(commands::tokenize::DetokenizeArgs),
    /// Architecture, parameters, dtypes, bytes and KV-cache size of a model.
    Info(commands::info::InfoArgs),
    /// Grade a response against a gold answer: prints true or false (exit status 0 or 1).
    Grade(commands::grade::GradeArgs),
    /// Evaluate a model on generated tasks or a JSONL benchmark: pass@1, cons@k, plots.
    Eval(commands::eval::EvalArgs),
    /// Prefill and decode speed, weight bytes and peak memory.
    Bench(commands::bench::BenchArgs),
    /// Write a GGUF file in 8-bit, 4-bit or 16-bit weights, from an HF directory or GGUF.
    Quantize(commands::quantize::QuantizeArgs),
    /// Train: SFT, pretraining or GRPO from a TOML config, with crash-safe checkpoints.
    Train(commands::train::TrainArgs),
    /// Rejection-sampled traces from a teacher, kept when graded correct, as an SFT dataset.
    Distill(commands::distill::DistillArgs),
    /// PNG charts of a training run's metrics.
    Plot(commands::train::PlotArgs),
    /// Run a whole training recipe (tiny-r1: tokenizer, pretraining, SFT, GRPO, distillation).
    Recipe(commands::recipe::RecipeArgs),
    /// OpenAI-compatible API server and web chat (loopback by default).
    Serve(commands::serve::ServeArgs),
    /// Download a model from the Hugging Face hub into the local cache (the only command that connects).
    Pull(commands::pull::PullArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(commands::completions::CompletionsArgs),
}

/// An error that ends the program with a chosen exit status (`grade`: 1 for a wrong answer,
/// 2 for an error); `message` goes to stderr when present.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: Option<String>,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message.as_deref().unwrap_or("exit"))
    }
}

impl std::error::Error for Exit {}

/// The command line as clap sees it: every flag value may start with `-` (`--gold -3`,
/// `--prompt "-x"`), so a flag directly after a flag that takes a value is that value.
fn cli_command() -> clap::Command {
    fn hyphen_values(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| if a.get_action().takes_values() { a.allow_hyphen_values(true) } else { a })
            .mut_subcommands(hyphen_values)
    }
    let long_version: &'static str = Box::leak(version::long_version().into_boxed_str());
    hyphen_values(Cli::command()).long_version(long_version)
}

fn main() -> ExitCode {
    let matches = cli_command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<Exit>() {
            Some(exit) => {
                if let Some(m) = &exit.message {
                    eprintln!("error: {m}");
                }
                ExitCode::from(exit.code)
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Chat(a) => commands::chat::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Logprobs(a) => commands::logprobs::run(a),
        Command::Tokenize(a) => commands::tokenize::run_tokenize(a),
        Command::Detokenize(a) => commands::tokenize::run_detokenize(a),
        Command::Info(a) => commands::info::run(a),
        Command::Grade(a) => commands::grade::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Quantize(a) => commands::quantize::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Distill(a) => commands::distill::run(a),
        Command::Plot(a) => commands::train::plot(a),
        Command::Recipe(a) => commands::recipe::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Pull(a) => commands::pull::run(a),
        Command::Completions(a) => commands::completions::run(a, cli_command()),
    }
}
