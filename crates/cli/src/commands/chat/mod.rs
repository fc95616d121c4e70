//! `reasoner chat`: a multi-turn conversation on the terminal, streaming tokens with the thinking
//! shown dimmed and apart from the answer. Line editing and history come from rustyline; Ctrl-C
//! stops a reply and keeps the conversation. Piped stdin is taken as one message, answered once.
//! Earlier turns keep only their answers, as R1's template expects.

mod line_input;
mod session;

use super::transcript::{Transcript, finish_words, print_dim, stats_line};
use crate::compute_args::ComputeArgs;
use crate::decode_args::DecodeArgs;
use crate::model_arg;
use crate::sampling_args::{SamplingArgs, describe, fit_context};
use anyhow::Result;
use clap::Args;
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{Engine, GenerationRequest};
use reasoner_model::chat_template::ChatMessage;
use rustyline::error::ReadlineError;
use session::{Action, Session};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Args)]
pub struct ChatArgs {
    #[arg(short = 'm', long, help = model_arg::MODEL_HELP)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    #[command(flatten)]
    pub load: model_arg::LoadArg,
    /// A system message. None by default: nothing is added to what you type.
    #[arg(long)]
    pub system: Option<String>,
    /// Do not print the thinking (a "thinking… (N tokens)" line counts it instead).
    #[arg(long)]
    pub hide_thinking: bool,
    /// Print the sampling settings (seed included) at the start; the line after each reply
    /// (tokens, tok/s, why it stopped) is shown on a terminal anyway.
    #[arg(short, long)]
    pub verbose: bool,
    /// No line after each reply.
    #[arg(long, conflicts_with = "verbose")]
    pub no_stats: bool,
    /// Where the prompt's history is kept [default: $REASONER_HISTORY, else
    /// ~/.local/state/reasoner/chat_history]
    #[arg(long, value_name = "FILE")]
    pub history_file: Option<PathBuf>,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

/// What one reply did to the conversation.
enum Replied {
    Done,
    /// Stopped by Ctrl-C: the turn is kept when it has answer text.
    Stopped,
}

struct Chat<'m> {
    model: &'m reasoner_model::LoadedModel,
    engine: Engine<'m>,
    cancel: Arc<AtomicBool>,
    stats: bool,
    decode: DecodeArgs,
}

impl Chat<'_> {
    /// Answers the last user turn of `s`, streaming it; adds the assistant's turn.
    fn reply(&self, s: &mut Session) -> Result<Replied> {
        let p = chat_prompt(self.model, &s.messages(), &Default::default())?;
        let mut params = s.params.clone();
        let cut = fit_context(&mut params, p.ids.len(), self.model.model.info().max_positions)?;
        let max_tokens = params.max_tokens;
        let req = GenerationRequest { prompt_ids: p.ids, params, stop: vec![], think_open: p.think_open };
        let mut t = Transcript::new(s.show_thinking);
        self.cancel.store(false, Ordering::SeqCst);
        let (mut done, stats) = self.engine.generate_requests(&[self.decode.request(&req)], |_, seg| t.segment(seg))?;
        t.finish();
        let c = done.remove(0);
        if self.stats {
            let by_context = cut && c.completion_tokens >= max_tokens;
            print_dim(&stats_line(&c, &stats, &finish_words(&c, max_tokens, by_context, false)));
        }
        let stopped = c.finish_reason == "cancelled";
        if stopped && c.content.trim().is_empty() {
            // Nothing answered yet: drop the question too, so the next turn is not two in a row.
            s.turns.pop();
            print_dim("(stopped before an answer; that message was dropped from the conversation)");
        } else {
            s.turns.push(ChatMessage::new("assistant", &c.content));
            if stopped {
                print_dim("(stopped; the partial answer stays in the conversation)");
            }
        }
        Ok(if stopped { Replied::Stopped } else { Replied::Done })
    }
}

pub fn run(a: ChatArgs) -> Result<()> {
    let compute = a.compute;
    compute.install(|| chat(a))
}

fn chat(a: ChatArgs) -> Result<()> {
    let m = model_arg::open_with_cache(&a.model, a.kv_cache, a.load)?;
    let params = a.sampling.resolve(&m.generation)?;
    let mut s = Session { system: a.system.clone(), turns: Vec::new(), params, show_thinking: !a.hide_thinking };
    let cancel = Arc::new(AtomicBool::new(false));
    let mut engine = Engine::new(&m);
    engine.cancel = Some(cancel.clone());
    a.decode.configure(&mut engine);
    let interactive = std::io::stdin().is_terminal();
    let chat = Chat {
        model: &m,
        engine,
        cancel: cancel.clone(),
        stats: !a.no_stats && (a.verbose || std::io::stderr().is_terminal()),
        decode: a.decode,
    };
    if a.verbose {
        eprintln!("{}", describe(&s.params));
    }
    if !interactive {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let input = input.trim().to_string();
        if input.is_empty() {
            anyhow::bail!("stdin was empty: nothing to answer");
        }
        s.turns.push(ChatMessage::new("user", &input));
        chat.reply(&mut s)?;
        return Ok(());
    }
    // While a reply streams the terminal is in cooked mode and Ctrl-C is a signal: it sets the
    // flag the engine checks between tokens. At the prompt rustyline reads it as a key.
    ctrlc::set_handler(move || cancel.store(true, Ordering::SeqCst))?;
    let mut ed = line_input::editor()?;
    let history = a.history_file.clone().or_else(line_input::default_history_file);
    if let Some(h) = &history {
        // A first run has no file yet; that is not worth a message.
        let _ = ed.load_history(h);
    }
    eprintln!("reasoner chat: {} — /help lists the commands; Ctrl-D or /exit quits.", m.path.display());
    let mut interrupted = false;
    loop {
        let input = match ed.readline(">>> ") {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                if interrupted {
                    break;
                }
                interrupted = true;
                eprintln!("(Ctrl-C again to leave, or Ctrl-D / /exit)");
                continue;
            }
            Err(ReadlineError::Eof) => {
                eprintln!();
                break;
            }
            Err(e) => return Err(e.into()),
        };
        interrupted = false;
        if input.trim().is_empty() {
            continue;
        }
        let _ = ed.add_history_entry(input.as_str());
        match s.handle(&line_input::message_text(&input)) {
            Action::Exit => break,
            Action::Said(text) => eprintln!("{text}"),
            Action::Send(text) => {
                s.turns.push(ChatMessage::new("user", &text));
                if let Err(e) = chat.reply(&mut s) {
                    // A turn that cannot be answered (e.g. past the context window) is dropped;
                    // the session goes on.
                    s.turns.pop();
                    eprintln!("error: {e:#}");
                }
            }
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = ed.save_history(h) {
            eprintln!("warning: history not saved to {}: {e}", h.display());
        }
    }
    Ok(())
}
