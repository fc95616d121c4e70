//! The `reasoner` binary: thin commands over the model, engine and tasks crates.
//! Errors reach stderr with the file, key or flag at fault, and a non-zero exit code.

mod commands;
mod model_arg;
mod sampling_args;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "reasoner", version, about = "Local, private reasoning models: run, score, inspect.")]
struct Cli {
    /// Worker threads for the tensor kernels (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Prefill on quantized GGUF weights by dequantizing them to f32 (exact on the dequantized
    /// weights, about 1.5x slower). By default prefill quantizes activations to 8 bits and runs
    /// the integer kernels, as decode and llama.cpp do, so it gives llama.cpp's numbers.
    #[arg(long, global = true, conflicts_with = "int8_prefill")]
    dequant_prefill: bool,
    /// The default since 0.1 (kept so scripts that pass it keep working).
    #[arg(long, global = true, hide = true)]
    int8_prefill: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Interactive chat (reads piped stdin as one message); thinking shown apart from the answer.
    Chat(commands::chat::ChatArgs),
    /// Generate one completion for a prompt.
    Generate(commands::generate::GenerateArgs),
    /// Log-probabilities of a token sequence, as JSON.
    Logprobs(commands::logprobs::LogprobsArgs),
    /// Architecture, parameters, dtypes, bytes and KV-cache size of a model.
    Info(commands::info::InfoArgs),
    /// Grade a response against a gold answer: prints true or false.
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("error: --threads must be at least 1");
            return ExitCode::from(2);
        }
        // Set before any worker pool exists; candle and rayon read it when they start.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
    }
    // Run the command on a worker of the pool the kernels use: the thread that drives the
    // forward pass then takes part in every parallel mat-vec instead of sleeping while two
    // other threads work and waking for each of ~200 calls per token.
    if cli.dequant_prefill {
        reasoner_model::quant::kernels::set_int8_prefill(false);
    }
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: starting {threads} worker threads: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = pool.install(|| run(cli.command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Chat(a) => commands::chat::run(a),
        Command::Generate(a) => commands::generate::run(a),
        Command::Logprobs(a) => commands::logprobs::run(a),
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
    }
}
