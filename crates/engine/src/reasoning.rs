//! The reasoning parser: splits a stream of generated text into thinking and answer at
//! `<think>` / `</think>`, token by token, holding back only text that may be the start of a tag.
//! Works when the template already opened `<think>` in the prompt (R1's does).

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Reasoning(String),
    Content(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace seen yet: a `<think>` may still come.
    Start,
    Thinking,
    /// Right after `</think>`: leading whitespace of the answer is dropped.
    AnswerStart,
    Answer,
}

#[derive(Debug, Clone)]
pub struct ReasoningParser {
    state: State,
    pending: String,
}

impl ReasoningParser {
    /// `think_open`: the prompt already ends inside a `<think>` block.
    pub fn new(think_open: bool) -> Self {
        Self { state: if think_open { State::Thinking } else { State::Start }, pending: String::new() }
    }

    pub fn in_thinking(&self) -> bool {
        self.state == State::Thinking
    }

    pub fn push(&mut self, text: &str) -> Vec<Segment> {
        self.pending.push_str(text);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Start => {
                    let trimmed = self.pending.trim_start();
                    if trimmed.is_empty() {
                        return out;
                    }
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.pending = rest.to_string();
                        self.state = State::Thinking;
                    } else if OPEN.starts_with(trimmed) {
                        return out; // could still become "<think>"
                    } else {
                        self.state = State::Answer;
                    }
                }
                State::Thinking => {
                    if let Some(i) = self.pending.find(CLOSE) {
                        let before = self.pending[..i].to_string();
                        self.pending = self.pending[i + CLOSE.len()..].to_string();
                        push_seg(&mut out, Segment::Reasoning(before));
                        self.state = State::AnswerStart;
                    } else {
                        let keep = partial_suffix(&self.pending, CLOSE);
                        let emit: String = self.pending[..self.pending.len() - keep].to_string();
                        self.pending.drain(..self.pending.len() - keep);
                        push_seg(&mut out, Segment::Reasoning(emit));
                        return out;
                    }
                }
                State::AnswerStart => {
                    let trimmed = self.pending.trim_start().to_string();
                    self.pending = trimmed;
                    if self.pending.is_empty() {
                        return out;
                    }
                    self.state = State::Answer;
                }
                State::Answer => {
                    push_seg(&mut out, Segment::Content(std::mem::take(&mut self.pending)));
                    return out;
                }
            }
        }
    }

    /// End of stream: whatever was held back is released in the current state.
    pub fn finish(&mut self) -> Vec<Segment> {
        let rest = std::mem::take(&mut self.pending);
        let mut out = Vec::new();
        match self.state {
            State::Thinking => push_seg(&mut out, Segment::Reasoning(rest)),
            State::AnswerStart => {}
            State::Start | State::Answer => push_seg(&mut out, Segment::Content(rest.trim_start().to_string())),
        }
        out
    }
}

fn push_seg(out: &mut Vec<Segment>, seg: Segment) {
    match &seg {
        Segment::Reasoning(s) | Segment::Content(s) if s.is_empty() => {}
        _ => out.push(seg),
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`.
fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..]))
        .unwrap_or(0)
}

/// Split a finished text into (reasoning, content) in one go.
pub fn split_reasoning(text: &str, think_open: bool) -> (String, String) {
    let mut p = ReasoningParser::new(think_open);
    let mut segs = p.push(text);
    segs.extend(p.finish());
    join_segments(segs)
}

/// Concatenate segments into (reasoning, content).
pub fn join_segments(segs: impl IntoIterator<Item = Segment>) -> (String, String) {
    let (mut r, mut c) = (String::new(), String::new());
    for s in segs {
        match s {
            Segment::Reasoning(t) => r.push_str(&t),
            Segment::Content(t) => c.push_str(&t),
        }
    }
    (r, c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(pieces: &[&str], open: bool) -> (String, String) {
        let mut p = ReasoningParser::new(open);
        let mut segs = Vec::new();
        for piece in pieces {
            segs.extend(p.push(piece));
        }
        segs.extend(p.finish());
        join_segments(segs)
    }

    #[test]
    fn splits_tags_broken_across_tokens() {
        let pieces = ["<th", "ink>", "2+3", " is 5", "</", "thi", "nk>", "\n\n", "The answer", " is 5."];
        assert_eq!(stream(&pieces, false), ("2+3 is 5".into(), "The answer is 5.".into()));
    }

    #[test]
    fn template_opened_think_in_prompt() {
        let pieces = ["\nadd them", "</think>", "5"];
        assert_eq!(stream(&pieces, true), ("\nadd them".into(), "5".into()));
    }

    #[test]
    fn no_thinking_is_all_content() {
        assert_eq!(stream(&["Hello", " <think> is literal"], false), ("".into(), "Hello <think> is literal".into()));
        assert_eq!(stream(&["<", "b>x"], false), ("".into(), "<b>x".into()));
    }

    #[test]
    fn unclosed_thinking_stays_reasoning() {
        assert_eq!(stream(&["<think>still going </th"], false), ("still going </th".into(), "".into()));
    }

    #[test]
    fn every_split_point_gives_the_same_result() {
        let text = "<think>a < b, so </think> answer </think> x";
        let want = split_reasoning(text, false);
        assert_eq!(want, ("a < b, so ".into(), "answer </think> x".into()));
        for i in 0..text.len() {
            assert_eq!(stream(&[&text[..i], &text[i..]], false), want, "split at {i}");
        }
    }
}
