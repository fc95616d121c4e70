//! Reading a message at the chat prompt with rustyline: line editing, history kept in a file,
//! and multi-line input: a pasted block stays one message (bracketed paste), a line ending in
//! `\` continues on the next, and `"""` opens a block that a closing `"""` ends.

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Config, Editor, Helper};
use std::path::PathBuf;

/// The rustyline helper: only the validator does anything (it decides when input is complete).
pub struct MultiLine;

impl Completer for MultiLine {
    type Candidate = String;
}
impl Hinter for MultiLine {
    type Hint = String;
}
impl Highlighter for MultiLine {}
impl Helper for MultiLine {}

impl Validator for MultiLine {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_complete(ctx.input()) { ValidationResult::Valid(None) } else { ValidationResult::Incomplete })
    }
}

/// Whether Enter sends `input`: not while a `"""` block is open or the last line ends in `\`.
pub fn is_complete(input: &str) -> bool {
    if let Some(rest) = input.trim_start().strip_prefix("\"\"\"") {
        return rest.trim_end().ends_with("\"\"\"");
    }
    !input.ends_with('\\')
}

/// The message `input` stands for: `"""` fences and `\` line joins removed.
pub fn message_text(input: &str) -> String {
    let t = input.trim();
    if let Some(inner) = t.strip_prefix("\"\"\"").and_then(|r| r.strip_suffix("\"\"\"")) {
        return inner.trim_matches('\n').to_string();
    }
    t.replace("\\\n", "\n")
}

/// `$REASONER_HISTORY`, else `$XDG_STATE_HOME/reasoner/chat_history`, else
/// `~/.local/state/reasoner/chat_history`.
pub fn default_history_file() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("REASONER_HISTORY").or_else(|| {
        var("XDG_STATE_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".local").join("state")))
            .map(|d| d.join("reasoner").join("chat_history"))
    })
}

pub fn editor() -> rustyline::Result<Editor<MultiLine, FileHistory>> {
    let config = Config::builder().auto_add_history(false).max_history_size(1000)?.build();
    let mut ed = Editor::with_config(config)?;
    ed.set_helper(Some(MultiLine));
    Ok(ed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_blocks() {
        assert!(is_complete("hello"));
        assert!(!is_complete("first line \\"));
        assert!(is_complete("first line \\\nsecond"));
        assert!(!is_complete("\"\"\"start"));
        assert!(!is_complete("\"\"\""));
        assert!(is_complete("\"\"\"a\nb\n\"\"\""));
        assert_eq!(message_text("\"\"\"\na\nb\n\"\"\""), "a\nb");
        assert_eq!(message_text("one \\\ntwo"), "one \ntwo");
    }
}
