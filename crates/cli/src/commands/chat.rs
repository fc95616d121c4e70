//! `reasoner chat`: a multi-turn conversation on the terminal, streaming tokens with the thinking
//! shown dimmed and apart from the answer. Piped stdin is taken as one message, answered once.
//! Earlier turns keep only their answers, as R1's template expects.

use super::transcript::Transcript;
use crate::model_arg;
use crate::sampling_args::SamplingArgs;
use anyhow::Result;
use clap::Args;
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{Engine, GenerationRequest};
use reasoner_model::chat_template::ChatMessage;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct ChatArgs {
    #[arg(long)]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub kv_cache: model_arg::KvCacheArg,
    /// A system message. None by default: nothing is added to what you type.
    #[arg(long)]
    pub system: Option<String>,
    /// Do not print the thinking.
    #[arg(long)]
    pub hide_thinking: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

pub fn run(a: ChatArgs) -> Result<()> {
    let m = model_arg::open_with_cache(&a.model, a.kv_cache)?;
    let params = a.sampling.resolve(&m.generation)?;
    let engine = Engine::new(&m);
    let mut history: Vec<ChatMessage> = a.system.iter().map(|s| ChatMessage::new("system", s)).collect();
    let interactive = std::io::stdin().is_terminal();
    let reply = |history: &mut Vec<ChatMessage>, user: String| -> Result<()> {
        history.push(ChatMessage::new("user", &user));
        let p = chat_prompt(&m, history, &Default::default())?;
        let req = GenerationRequest { prompt_ids: p.ids, params: params.clone(), stop: vec![], think_open: p.think_open };
        let mut t = Transcript::new(!a.hide_thinking);
        let (mut done, _) = engine.generate(std::slice::from_ref(&req), |_, seg| t.segment(seg))?;
        t.finish();
        let c = done.remove(0);
        history.push(ChatMessage::new("assistant", &c.content));
        Ok(())
    };
    if !interactive {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        let input = input.trim().to_string();
        if input.is_empty() {
            anyhow::bail!("stdin was empty: nothing to answer");
        }
        return reply(&mut history, input);
    }
    eprintln!("reasoner chat: {} — type a message; /reset clears the conversation, /exit or Ctrl-D quits.", m.path.display());
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim().to_string();
        match line.as_str() {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                history.retain(|m| m.role == "system");
                continue;
            }
            _ => reply(&mut history, line)?,
        }
    }
    Ok(())
}
