//! Printing a streamed reply: thinking apart from the answer. On a terminal the thinking is
//! dimmed; in a pipe it sits between `<think>` and `</think>` lines so scripts can split it.

use reasoner_engine::Segment;
use std::io::{IsTerminal, Write};

pub struct Transcript {
    tty: bool,
    show_thinking: bool,
    in_thinking: bool,
    started_answer: bool,
}

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

impl Transcript {
    pub fn new(show_thinking: bool) -> Self {
        Self { tty: std::io::stdout().is_terminal(), show_thinking, in_thinking: false, started_answer: false }
    }

    pub fn segment(&mut self, seg: &Segment) {
        let mut out = std::io::stdout().lock();
        match seg {
            Segment::Reasoning(t) if self.show_thinking => {
                if !self.in_thinking {
                    self.in_thinking = true;
                    let _ = if self.tty { writeln!(out, "{DIM}Thinking…") } else { writeln!(out, "<think>") };
                }
                let _ = write!(out, "{t}");
            }
            Segment::Reasoning(_) => {}
            Segment::Content(t) => {
                self.close_thinking(&mut out);
                self.started_answer = true;
                let _ = write!(out, "{t}");
            }
        }
        let _ = out.flush();
    }

    fn close_thinking(&mut self, out: &mut impl Write) {
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
        self.started_answer = false;
    }
}
