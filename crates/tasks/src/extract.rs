//! Answer extraction from a model response, in Math-Verify's order: thinking is dropped first,
//! then the last `\boxed{…}` (boxes side by side are joined into a list) or "final answer is …
//! I hope", else `<answer>…</answer>`, else "final answer … is X", "answer: X", "answer … X",
//! else the rightmost `$…$` / `\(…\)` / `\[…\]` span or plain number (see `spans`).

use serde::{Deserialize, Serialize};

/// Where the extracted answer came from, most explicit first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerForm {
    Boxed,
    AnswerTag,
    AnswerLine,
    LastNumber,
    /// The rightmost `$…$`, `\(…\)` or `\[…\]` span.
    LatexSpan,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    pub answer: String,
    pub form: AnswerForm,
}

/// A response split at its thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThinkSplit<'a> {
    /// Text inside `<think>…</think>` (or after an unclosed `<think>`), if any.
    pub thinking: Option<&'a str>,
    /// Text after the last `</think>`, or the whole response when there is no thinking;
    /// `None` when `<think>` was opened and never closed.
    pub content: Option<&'a str>,
}

impl ThinkSplit<'_> {
    /// True when a `</think>` ends the thinking (templates that open `<think>` in the prompt
    /// leave only the closing tag in the response).
    pub fn closed(&self) -> bool {
        self.thinking.is_some() && self.content.is_some()
    }
}

pub const THINK_OPEN: &str = "<think>";
pub const THINK_CLOSE: &str = "</think>";

pub fn split_thinking(response: &str) -> ThinkSplit<'_> {
    if let Some(pos) = response.rfind(THINK_CLOSE) {
        let before = &response[..pos];
        let thinking = match before.find(THINK_OPEN) {
            Some(open) => &before[open + THINK_OPEN.len()..],
            None => before,
        };
        return ThinkSplit { thinking: Some(thinking), content: Some(&response[pos + THINK_CLOSE.len()..]) };
    }
    if let Some(open) = response.find(THINK_OPEN) {
        return ThinkSplit { thinking: Some(&response[open + THINK_OPEN.len()..]), content: None };
    }
    ThinkSplit { thinking: None, content: Some(response) }
}

/// The answer in `response`, after its thinking.
pub fn extract(response: &str) -> Option<Extracted> {
    split_thinking(response).content.and_then(extract_from_content)
}

/// For chat templates that open `<think>` in the prompt (R1's does): the response then lacks
/// the opening tag, so add it back before extracting, grading or rewarding, or an unfinished
/// thought would be read as an answer.
pub fn with_prompt_think(response: &str) -> String {
    if response.trim_start().starts_with(THINK_OPEN) { response.to_string() } else { format!("{THINK_OPEN}{response}") }
}

/// Just the answer text.
pub fn extract_answer(response: &str) -> Option<String> {
    extract(response).map(|e| e.answer)
}

/// Extraction on text that has no thinking in it: the best candidate in priority order.
/// (Math-Verify moves on when a match does not parse; we keep it and compare it as text, since
/// what sympy parses and we do not — sums, integrals — is the answer all the same.)
pub fn extract_from_content(content: &str) -> Option<Extracted> {
    crate::extract_spans::candidates(content).into_iter().next()
}

/// The contents of the last complete, non-empty `\boxed{…}` / `\fbox{…}` / `\boxed 5`.
pub fn last_boxed(text: &str) -> Option<String> {
    boxed_chain(text, false).map(|(a, _)| a)
}

/// The last box and, with `chain`, the boxes before it that Math-Verify joins to it (fewer than
/// 10 characters apart, or fewer than 70 with "and", "or", `,` or `;` between and a different
/// content), joined with ", "; and the byte offset where the last box ends.
pub fn boxed_chain(text: &str, chain: bool) -> Option<(String, usize)> {
    const BOXED: &str = "\\boxed";
    const FBOX: &str = "\\fbox";
    // Each command's last occurrence before the current position, searched again only after
    // it is used, and a group still open at an unclosed `\boxed{` can never close, so later
    // scans stop there: degenerate outputs (thousands of unclosed boxes) stay linear.
    let mut boxed = text.rfind(BOXED);
    let mut fbox = text.rfind(FBOX);
    let mut limit = text.len();
    let mut found: Vec<(String, usize, usize)> = Vec::new(); // (content, start, end)
    loop {
        let (pos, len) = match (boxed, fbox) {
            (Some(a), Some(b)) if a > b => (a, BOXED.len()),
            (_, Some(b)) => (b, FBOX.len()),
            (Some(a), None) => (a, BOXED.len()),
            (None, None) => break,
        };
        if len == BOXED.len() {
            boxed = text[..pos].rfind(BOXED);
        } else {
            fbox = text[..pos].rfind(FBOX);
        }
        let rest = &text[pos + len..limit.max(pos + len)];
        match boxed_argument(rest) {
            Some(inner) if !inner.trim().is_empty() => {
                let inner = inner.trim().to_string();
                let end = pos + len + (rest.len() - rest.trim_start().len()) + inner_len(rest);
                if let Some((last, last_start, _)) = found.last() {
                    let between = text.get(end..*last_start).unwrap_or("");
                    let separated = between.len() < 70
                        && *last != inner
                        && (between.contains([',', ';']) || has_word(between, "and") || has_word(between, "or"));
                    if between.len() >= 10 && !separated {
                        break;
                    }
                    if *last == inner {
                        if let Some(f) = found.last_mut() {
                            f.1 = pos;
                        }
                        continue;
                    }
                }
                found.push((inner, pos, end));
                if !chain {
                    break;
                }
            }
            Some(_) => {}
            None if text[pos + len..].trim_start().starts_with('{') => limit = pos,
            None => {}
        }
    }
    let end = found.first()?.2;
    let joined: Vec<String> = found.into_iter().rev().map(|f| f.0).collect();
    Some((joined.join(", "), end))
}

fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric()).any(|w| w == word)
}

/// Length of the argument `boxed_argument` read, braces included.
fn inner_len(rest: &str) -> usize {
    let trimmed = rest.trim_start();
    match trimmed.strip_prefix('{').and_then(matching_brace) {
        Some(close) => close + 2,
        None => trimmed.find(|c: char| c.is_whitespace() || c == '$').unwrap_or(trimmed.len()),
    }
}

/// `{…}` with nested braces, or ` token` after whitespace; `None` when unclosed.
fn boxed_argument(rest: &str) -> Option<&str> {
    let trimmed = rest.trim_start();
    if let Some(body) = trimmed.strip_prefix('{') {
        return matching_brace(body).map(|close| &body[..close]);
    }
    if trimmed.len() == rest.len() {
        return None; // `\boxedx`: not the command
    }
    let end = trimmed.find(|c: char| c.is_whitespace() || c == '$').unwrap_or(trimmed.len());
    Some(&trimmed[..end])
}

/// Byte index of the `}` closing a group whose `{` came just before `body`.
pub(crate) fn matching_brace(body: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = body[i + 1..].starts_with(['{', '}']),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The last complete, non-empty `<answer>…</answer>` (found from the last closing tag back).
pub(crate) fn last_answer_tag(text: &str) -> Option<String> {
    let mut end = text.len();
    loop {
        let close = text[..end].rfind("</answer>")?;
        let open = text[..close].rfind("<answer>")?;
        let inner = text[open + "<answer>".len()..close].trim();
        if !inner.is_empty() {
            return Some(inner.to_string());
        }
        end = open;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ans(s: &str) -> Option<String> {
        extract_answer(s)
    }

    #[test]
    fn boxed_wins_and_nests() {
        assert_eq!(ans("so \\boxed{\\frac{1}{2}} done"), Some("\\frac{1}{2}".into()));
        // Boxes fewer than 10 characters apart form one list, as in Math-Verify.
        assert_eq!(ans("\\boxed{1} then \\boxed{2}"), Some("1, 2".into()));
        assert_eq!(ans("\\boxed{1} is wrong, so finally \\boxed{2}"), Some("1, 2".into()));
        assert_eq!(ans("\\boxed{1} is wrong. After more work we see \\boxed{2}"), Some("2".into()));
        assert_eq!(ans("\\boxed{\\{1,2\\}}"), Some("\\{1,2\\}".into()));
        assert_eq!(ans("$\\boxed 5$."), Some("5".into()));
        assert_eq!(ans("\\fbox{7} Answer: 8"), Some("7".into()));
        assert_eq!(ans("\\boxed{3} and a cut \\boxed{4"), Some("3".into()));
        assert_eq!(ans("\\boxed{} The answer is 9."), Some("9".into()));
        assert_eq!(ans("\\boxed{1} \\boxed{\\boxed{2"), Some("1".into()));
        assert_eq!(ans("\\boxed{\\frac{1}{2}} \\boxed{"), Some("\\frac{1}{2}".into()));
        assert_eq!(ans("<answer>1</answer> <answer>2"), Some("1".into()));
        assert_eq!(ans("<answer>1</answer> <answer> </answer>"), Some("1".into()));
        assert_eq!(extract("x \\boxed{2}").map(|e| e.form), Some(AnswerForm::Boxed));
    }

    #[test]
    fn fallbacks_in_order() {
        assert_eq!(ans("<answer> 19 + 36 </answer> then 5"), Some("19 + 36".into()));
        assert_eq!(ans("So the final answer is $42$.\nThanks 7"), Some("42".into()));
        assert_eq!(ans("**Answer:** 1,234."), Some("1234".into()));
        assert_eq!(ans("Final Answer:\n\n  17\n"), Some("17".into()));
        assert_eq!(ans("we get 3, then -12.5 apples"), Some("-12.5".into()));
        assert_eq!(ans("total 1,234,567 units"), Some("1234567".into()));
        assert_eq!(ans("ratio 3/4."), Some("3/4".into()));
        assert_eq!(ans("5-3 is 2"), Some("2".into()));
        // A comma before fewer than three digits is a decimal comma, as Math-Verify reads it.
        assert_eq!(ans("list 1,2"), Some("1.2".into()));
        assert_eq!(ans("AZYUK2A"), None);
        assert_eq!(ans("no digits"), None);
    }

    #[test]
    fn thinking_never_counts() {
        assert_eq!(ans("<think>\\boxed{1}</think> The answer is 2"), Some("2".into()));
        assert_eq!(ans("reasoning 5 </think> \\boxed{6}"), Some("6".into()));
        assert_eq!(ans("<think>still thinking \\boxed{1}"), None);
        assert_eq!(ans("<think>a</think> b <think> c </think> 3"), Some("3".into()));
        assert_eq!(ans("<think>x=4</think>"), None);
        let s = split_thinking("<think>abc</think>def");
        assert_eq!((s.thinking, s.content, s.closed()), (Some("abc"), Some("def"), true));
        assert!(!split_thinking("plain").closed());
        assert_eq!(ans(&with_prompt_think("still going 5")), None);
        assert_eq!(ans(&with_prompt_think("done</think> 5")), Some("5".into()));
    }
}
