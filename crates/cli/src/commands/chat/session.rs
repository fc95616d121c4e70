//! A chat session's state (system message, turns, sampling settings) and the `/commands` that
//! act on it. Each command answers in a line, so nothing typed at the prompt goes unanswered.

use anyhow::{Context, Result, bail};
use reasoner_engine::SamplingParams;
use reasoner_model::chat_template::ChatMessage;
use std::path::Path;

pub struct Session {
    pub system: Option<String>,
    /// User and assistant turns, in order (the system message is kept apart).
    pub turns: Vec<ChatMessage>,
    pub params: SamplingParams,
    pub show_thinking: bool,
}

/// What the loop does after one line of input.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Send this text to the model as the next user message.
    Send(String),
    /// A command ran; print its answer.
    Said(String),
    Exit,
}

pub const HELP: &str = "\
/help                 this list
/reset                forget the conversation (the system message stays)
/system [TEXT]        set the system message (none without TEXT)
/set                  show the sampling settings
/set NAME VALUE       change one: temperature, top_p, top_k, min_p, repeat_penalty, seed,
                      max_tokens, thinking (show|hide)
/save FILE            write the conversation as JSON
/load FILE            read a conversation written by /save
/exit                 leave (also /quit, Ctrl-D, or Ctrl-C twice at the prompt)
Multi-line: end a line with \\ to continue it, or wrap a block in \"\"\" … \"\"\"; pastes stay one message.
Ctrl-C while the model writes stops the reply and keeps the conversation.
Start a message with // to send a text that begins with /.";

impl Session {
    /// The messages a prompt is rendered from.
    pub fn messages(&self) -> Vec<ChatMessage> {
        self.system.iter().map(|s| ChatMessage::new("system", s)).chain(self.turns.iter().cloned()).collect()
    }

    /// Interprets one line typed at the prompt.
    pub fn handle(&mut self, input: &str) -> Action {
        let input = input.trim();
        if let Some(text) = input.strip_prefix("//") {
            return Action::Send(format!("/{text}"));
        }
        let Some(command) = input.strip_prefix('/') else {
            return Action::Send(input.to_string());
        };
        let (name, rest) = command.split_once(char::is_whitespace).map_or((command, ""), |(n, r)| (n, r.trim()));
        let said = match name {
            "help" | "?" => Ok(HELP.to_string()),
            "exit" | "quit" | "bye" => return Action::Exit,
            "reset" | "clear" => {
                let n = self.turns.len();
                self.turns.clear();
                Ok(format!(
                    "conversation cleared ({n} messages forgotten{})",
                    if self.system.is_some() { "; system message kept" } else { "" }
                ))
            }
            "system" if rest.is_empty() => {
                self.system = None;
                Ok("system message removed".into())
            }
            "system" => {
                self.system = Some(rest.to_string());
                Ok(format!("system message set ({} characters)", rest.chars().count()))
            }
            "set" if rest.is_empty() => Ok(self.settings()),
            "set" => self.set(rest),
            "save" => self.save(rest),
            "load" => self.load(rest),
            other => Err(anyhow::anyhow!("unknown command /{other}; /help lists them")),
        };
        Action::Said(said.unwrap_or_else(|e| format!("{e:#}")))
    }

    pub fn settings(&self) -> String {
        let p = &self.params;
        format!(
            "temperature {} · top_p {} · top_k {} · min_p {} · repeat_penalty {} · seed {} · max_tokens {} · thinking {}",
            p.temperature,
            p.top_p,
            p.top_k,
            p.min_p,
            p.repeat_penalty,
            p.seed,
            p.max_tokens,
            if self.show_thinking { "show" } else { "hide" }
        )
    }

    fn set(&mut self, rest: &str) -> Result<String> {
        let (name, value) =
            rest.split_once(char::is_whitespace).map(|(n, v)| (n, v.trim())).context("usage: /set NAME VALUE")?;
        let mut p = self.params.clone();
        let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("/set {name}: `{value}` is not valid ({e})");
        match name.replace('-', "_").as_str() {
            "temperature" | "temp" => p.temperature = value.parse().map_err(|e| bad(&e))?,
            "top_p" => p.top_p = value.parse().map_err(|e| bad(&e))?,
            "top_k" => p.top_k = value.parse().map_err(|e| bad(&e))?,
            "min_p" => p.min_p = value.parse().map_err(|e| bad(&e))?,
            "repeat_penalty" => p.repeat_penalty = value.parse().map_err(|e| bad(&e))?,
            "seed" => p.seed = value.parse().map_err(|e| bad(&e))?,
            "max_tokens" => p.max_tokens = value.parse().map_err(|e| bad(&e))?,
            "thinking" => {
                self.show_thinking = match value {
                    "show" | "on" | "true" => true,
                    "hide" | "off" | "false" => false,
                    _ => bail!("/set thinking: `{value}` is not show or hide"),
                };
                return Ok(format!("thinking = {value}"));
            }
            other => bail!(
                "/set: no setting `{other}` (temperature, top_p, top_k, min_p, repeat_penalty, seed, max_tokens, thinking)"
            ),
        }
        // The engine's own range check; its message names the field, as `/set` does.
        p.validate().map_err(|e| match e {
            reasoner_engine::EngineError::InvalidParam { message, .. } => anyhow::anyhow!("/set {name}: {message}"),
            other => anyhow::anyhow!("/set {name}: {other}"),
        })?;
        self.params = p;
        Ok(format!("{name} = {value}"))
    }

    fn save(&self, file: &str) -> Result<String> {
        if file.is_empty() {
            bail!("usage: /save FILE");
        }
        let v = serde_json::json!({ "system": self.system, "messages": self.turns });
        std::fs::write(file, serde_json::to_string_pretty(&v)? + "\n").with_context(|| format!("/save {file}"))?;
        Ok(format!("saved {} messages to {file}", self.turns.len()))
    }

    fn load(&mut self, file: &str) -> Result<String> {
        if file.is_empty() {
            bail!("usage: /load FILE");
        }
        let text = std::fs::read_to_string(Path::new(file)).with_context(|| format!("/load {file}"))?;
        let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("/load {file}: not JSON"))?;
        let turns: Vec<ChatMessage> = serde_json::from_value(v["messages"].clone())
            .with_context(|| format!("/load {file}: `messages` is not a list of {{role, content}}"))?;
        if let Some(bad) = turns.iter().find(|m| m.role != "user" && m.role != "assistant") {
            bail!("/load {file}: role `{}` (only user and assistant turns; the system message is `system`)", bad.role);
        }
        self.system = v["system"].as_str().map(str::to_string);
        self.turns = turns;
        Ok(format!("loaded {} messages from {file}", self.turns.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session { system: None, turns: Vec::new(), params: SamplingParams::default(), show_thinking: true }
    }

    #[test]
    fn commands_answer_and_messages_pass() {
        let mut s = session();
        assert_eq!(s.handle("hello"), Action::Send("hello".into()));
        assert_eq!(s.handle("//etc is a folder"), Action::Send("/etc is a folder".into()));
        assert_eq!(s.handle("/exit"), Action::Exit);
        assert!(matches!(s.handle("/help"), Action::Said(t) if t.contains("/reset")));
        assert!(matches!(s.handle("/set temperature 0.3"), Action::Said(t) if t == "temperature = 0.3"));
        assert_eq!(s.params.temperature, 0.3);
        assert!(
            matches!(s.handle("/set temperature -1"), Action::Said(t) if t.contains("/set temperature: must be >= 0")),
            "{:?}",
            s.handle("/set temperature -1")
        );
        assert_eq!(s.params.temperature, 0.3);
        assert!(matches!(s.handle("/set top_k many"), Action::Said(t) if t.contains("not valid")));
        assert!(matches!(s.handle("/frobnicate"), Action::Said(t) if t.contains("unknown command /frobnicate")));
        s.handle("/system Be brief.");
        assert_eq!(s.messages()[0].content, "Be brief.");
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.json");
        let mut s = session();
        s.system = Some("sys".into());
        s.turns = vec![ChatMessage::new("user", "hi"), ChatMessage::new("assistant", "hello")];
        assert!(matches!(s.handle(&format!("/save {}", file.display())), Action::Said(t) if t.starts_with("saved 2")));
        let mut t = session();
        assert!(matches!(t.handle(&format!("/load {}", file.display())), Action::Said(x) if x.starts_with("loaded 2")));
        assert_eq!(t.system.as_deref(), Some("sys"));
        assert_eq!(t.turns[1].content, "hello");
        assert!(matches!(t.handle("/reset"), Action::Said(x) if x.contains("2 messages")));
        assert!(t.turns.is_empty());
    }
}
