//! Printing a streamed reply: thinking apart from the answer. On a terminal the thinking is
//! dimmed (or, hidden, counted on a "thinking… (N tokens)" line), control characters the model
//! writes are shown escaped, and a dim line after the reply says how long, how fast and why it
//! stopped. In a pipe the text is exact, thinking between `<think>` and `</think>` lines.

use reasoner_engine::{Completion, GenerationStats, Segment};
use std::io::{IsTerminal, Write};

pub struct Transcript {
    tty: bool,
    show_thinking: bool,
    in_thinking: bool,
    /// Reasoning pieces seen while hidden (the "thinking…" line counts them).
    hidden_pieces: usize,
    status_shown: bool,
}

pub const DIM: &str = "\x1b[2m";
pub const RESET: &str = "\x1b[0m";

impl Transcript {
    pub fn new(show_thinking: bool) -> Self {
        Self::with_tty(show_thinking, std::io::stdout().is_terminal())
    }

    pub fn with_tty(show_thinking: bool, tty: bool) -> Self {
        Self { tty, show_thinking, in_thinking: false, hidden_pieces: 0, status_shown: false }
    }

    pub fn segment(&mut self, seg: &Segment) {
        let mut out = std::io::stdout().lock();
        match seg {
            Segment::Reasoning(t) if self.show_thinking => {
                if !self.in_thinking {
                    self.in_thinking = true;
                    let _ = if self.tty { writeln!(out, "{DIM}Thinking…") } else { writeln!(out, "<think>") };
                }
                let _ = write!(out, "{}", self.shown(t));
            }
            Segment::Reasoning(_) => {
                self.hidden_pieces += 1;
                if self.tty && (self.hidden_pieces == 1 || self.hidden_pieces.is_multiple_of(8)) {
                    // One reasoning piece per token, except where a stop-string check held text
                    // back and released it later: a close count, not an exact one.
                    let n = self.hidden_pieces;
                    let _ = write!(out, "\r{DIM}thinking… ({n} token{}){RESET}", if n == 1 { "" } else { "s" });
                    self.status_shown = true;
                }
            }
            Segment::Content(t) => {
                self.close_thinking(&mut out);
                let _ = write!(out, "{}", self.shown(t));
            }
        }
        let _ = out.flush();
    }

    /// The text as printed: escaped on a terminal, exact in a pipe.
    fn shown<'a>(&self, t: &'a str) -> std::borrow::Cow<'a, str> {
        if self.tty { escape_controls(t) } else { t.into() }
    }

    fn close_thinking(&mut self, out: &mut impl Write) {
        if self.status_shown {
            self.status_shown = false;
            let _ = write!(out, "\r\x1b[2K");
        }
        if self.in_thinking {
            self.in_thinking = false;
            let _ = if self.tty { write!(out, "{RESET}\n\n") } else { write!(out, "\n</think>\n\n") };
        }
    }

    /// End of one reply.
    pub fn finish(&mut self) {
        let mut out = std::io::stdout().lock();
        self.close_thinking(&mut out);
        let _ = writeln!(out);
        let _ = out.flush();
        self.hidden_pieces = 0;
    }
}

/// Control characters (ESC, BEL, backspace, CR, C1 codes) as visible escapes, so model output
/// cannot move the cursor, ring the bell or recolour the terminal; newlines and tabs stay.
pub fn escape_controls(t: &str) -> std::borrow::Cow<'_, str> {
    let is_bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !t.chars().any(is_bad) {
        return t.into();
    }
    let mut s = String::with_capacity(t.len() + 8);
    for c in t.chars() {
        if is_bad(c) {
            // Every control character is below U+00A0: two hex digits suffice.
            s.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            s.push(c);
        }
    }
    s.into()
}

/// Why a reply stopped, in words.
pub fn finish_words(c: &Completion, max_tokens: usize, context_cut: bool, stop_strings: bool) -> String {
    match c.finish_reason.as_str() {
        "stop" if stop_strings => "stop (end of text or a stop string)".into(),
        "stop" => "stop (end of text)".into(),
        "length" if context_cut => format!("length (the context window; {max_tokens} tokens were left)"),
        "length" => format!("length (--max-tokens {max_tokens})"),
        "cancelled" => "cancelled (Ctrl-C)".into(),
        other => other.into(),
    }
}

/// "412 tokens (380 thinking) · 23.5 tok/s · prompt 35 tokens, 210 tok/s · finish: …".
pub fn stats_line(c: &Completion, stats: &GenerationStats, finish: &str) -> String {
    let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    format!(
        "{} tokens ({} thinking) · {:.1} tok/s · prompt {} tokens, {:.0} tok/s · finish: {finish}",
        c.completion_tokens,
        c.reasoning_tokens,
        rate(stats.decode_tokens, stats.decode_secs),
        c.prompt_tokens,
        rate(stats.prefill_tokens, stats.prefill_secs),
    )
}

/// Prints `line` dimmed on stderr (plain when stderr is not a terminal).
pub fn print_dim(line: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{DIM}{line}{RESET}");
    } else {
        eprintln!("{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_but_newlines_kept() {
        assert_eq!(escape_controls("a\x1b[31mb\x07\x08\n\tc"), "a\\x1b[31mb\\x07\\x08\n\tc");
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("\u{9b}"), "\\x9b");
    }
}
