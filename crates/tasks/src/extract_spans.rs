//! Where an answer can sit in a response, in Math-Verify's priority order: math spans (`$…$`,
//! `$$…$$`, `\(…\)`, `\[…\]`, chained by "and"/"or"/`,`), plain numbers and arithmetic anchored
//! at a word boundary, and the "final answer is" / "answer:" phrases that put them first.

use crate::extract::{AnswerForm, Extracted, boxed_chain, last_answer_tag};

/// Responses are scanned over their last this-many bytes: answers sit at the end, and the
/// scan stays linear and bounded however long the response.
const MAX_SCAN: usize = 64 * 1024;
/// Longest plain arithmetic answer read (`2/3`, `5 * 6 = 30`).
const MAX_ARITHMETIC: usize = 200;
/// Occurrences of an answer phrase looked at, from the last one back.
const MAX_PHRASES: usize = 16;

/// A found answer, with the byte range it came from.
#[derive(Debug, Clone)]
struct Hit {
    answer: String,
    start: usize,
    end: usize,
}

/// Every candidate answer, best first.
pub fn candidates(content: &str) -> Vec<Extracted> {
    let mut cut = content.len().saturating_sub(MAX_SCAN);
    while !content.is_char_boundary(cut) {
        cut += 1;
    }
    let text = &content[cut..];
    let mut out = Vec::new();
    let push = |out: &mut Vec<Extracted>, answer: String, form: AnswerForm| {
        if !answer.trim().is_empty() {
            out.push(Extracted { answer: answer.trim().to_string(), form });
        }
    };
    let lower = text.to_ascii_lowercase();
    let spans = math_spans(text);
    let numbers = plain_numbers(text);

    // Priority 0: the boxes, or "final answer is X. I hope", whichever ends last.
    let boxed = boxed_chain(text, true).map(|(b, end)| {
        // `$\boxed{28}$ pct`: a percent after the box's closing delimiter belongs to it.
        let after = end + text[end..].len() - text[end..].trim_start_matches(['$', ' ', '\\', ')', ']']).len();
        if percent_after(text, after).0 { (format!("{b}\\%"), end) } else { (b, end) }
    });
    let hope = phrase_hits(&lower, "final answer is", 0, &spans, &numbers, text)
        .into_iter()
        .filter(|h| lower[h.end..].trim_start_matches(['.', ' ', '$', '\n']).starts_with("i hope"))
        .max_by_key(|h| h.end);
    match (boxed, hope) {
        (Some((b, end)), Some(h)) if h.end > end => {
            push(&mut out, h.answer, AnswerForm::AnswerLine);
            push(&mut out, b, AnswerForm::Boxed);
        }
        (Some((b, _)), h) => {
            push(&mut out, b, AnswerForm::Boxed);
            if let Some(h) = h {
                push(&mut out, h.answer, AnswerForm::AnswerLine);
            }
        }
        (None, Some(h)) => push(&mut out, h.answer, AnswerForm::AnswerLine),
        (None, None) => {}
    }
    if let Some(tag) = last_answer_tag(text) {
        push(&mut out, tag, AnswerForm::AnswerTag);
    }
    // Priority 50: "final answer … is X"; 100: "answer: X"; 200: "answer … X".
    for phrase in ["final answer", "answer:", "answer"] {
        let window = if phrase == "final answer" { 100 } else { 50 };
        let mut hits = phrase_hits(&lower, phrase, window, &spans, &numbers, text);
        hits.sort_by_key(|h| std::cmp::Reverse(h.end));
        for h in hits {
            push(&mut out, h.answer, AnswerForm::AnswerLine);
        }
    }
    // Priority 300: the rightmost span or number.
    let mut rest: Vec<(Hit, AnswerForm)> = spans
        .into_iter()
        .map(|h| (h, AnswerForm::LatexSpan))
        .chain(numbers.into_iter().map(|h| (h, AnswerForm::LastNumber)))
        .collect();
    rest.sort_by_key(|(h, _)| (std::cmp::Reverse(h.end), h.start));
    for (h, form) in rest {
        push(&mut out, h.answer, form);
    }
    out
}

/// After each `phrase`, the first span or number starting within `window` bytes (for
/// "final answer", after an " is" in that window).
fn phrase_hits(lower: &str, phrase: &str, window: usize, spans: &[Hit], numbers: &[Hit], text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    let ats: Vec<usize> = lower.match_indices(phrase).map(|(at, _)| at).collect();
    for &at in ats.iter().rev().take(MAX_PHRASES) {
        let mut from = at + phrase.len();
        if phrase == "final answer" {
            let limit = (from + window).min(lower.len());
            let Some(is) = lower.get(from..limit).and_then(|w| w.find(" is")) else {
                continue;
            };
            from += is + 3;
            if lower[from..].starts_with(':') {
                from += 1;
            }
        }
        let reach = if phrase.starts_with("final") { 8 } else { window };
        let first = spans
            .iter()
            .chain(numbers)
            .filter(|h| h.start >= from && h.start <= from + reach + leading_space(&text[from..]))
            .min_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
        if let Some(h) = first {
            hits.push(h.clone());
        }
    }
    hits
}

fn leading_space(s: &str) -> usize {
    s.len() - s.trim_start().len()
}

/// Math spans, each chained with the spans after it that "and", "or" or a comma join to it.
fn math_spans(text: &str) -> Vec<Hit> {
    let raw = raw_spans(text);
    let mut out: Vec<Hit> = Vec::new();
    for (i, first) in raw.iter().enumerate() {
        let mut answer = first.answer.clone();
        let mut end = first.end;
        for next in raw.iter().skip(i + 1).take(5) {
            if next.start.saturating_sub(end) > 12 {
                break;
            }
            let between = text[end..next.start].trim().to_ascii_lowercase();
            let joined = matches!(between.as_str(), "," | "and" | "or" | ",and" | ", and" | ",or" | ", or");
            if !joined {
                break;
            }
            answer = format!("{answer}, {}", next.answer);
            end = next.end;
        }
        out.push(Hit { answer, start: first.start, end });
    }
    out
}

/// `$$…$$`, `\[…\]`, `$…$` (one line, not after a digit or backslash), `\(…\)`, a bare
/// `\frac{a}{b}`; a percent sign or word right after a span belongs to it.
fn raw_spans(text: &str) -> Vec<Hit> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Once a closing delimiter is missing after some point, it is missing after every later
    // opening too: remembering that keeps unclosed spans from making the scan quadratic.
    let mut unclosed = [usize::MAX; 3];
    let mut closing = |kind: usize, from: usize, close: &str| -> Option<usize> {
        if from >= unclosed[kind] {
            return None;
        }
        let found = text[from..].find(close).map(|e| from + e);
        if found.is_none() {
            unclosed[kind] = from;
        }
        found
    };
    while i < b.len() {
        let found = if b[i..].starts_with(b"$$") && !escaped(b, i) {
            closing(0, i + 2, "$$").map(|e| (i + 2, e, e + 2))
        } else if b[i] == b'$' && !escaped(b, i) && !(i > 0 && b[i - 1].is_ascii_digit()) {
            inline_dollar(text, i + 1).map(|e| (i + 1, e, e + 1))
        } else if b[i..].starts_with(b"\\[") {
            closing(1, i + 2, "\\]").map(|e| (i + 2, e, e + 2))
        } else if b[i..].starts_with(b"\\(") {
            closing(2, i + 2, "\\)").map(|e| (i + 2, e, e + 2))
        } else if b[i..].starts_with(b"\\frac{") || b[i..].starts_with(b"-\\frac{") {
            let at = if b[i] == b'-' { i + 1 } else { i };
            simple_fraction(text, at).map(|e| (i, e, e))
        } else {
            None
        };
        match found {
            Some((s, e, after)) => {
                let mut inner = text[s..e].to_string();
                if let Some((b, _)) = boxed_chain(&inner, true) {
                    inner = b;
                }
                let (pct, after) = percent_after(text, after);
                if pct {
                    inner.push_str("\\%");
                }
                if !inner.trim().is_empty() {
                    out.push(Hit { answer: inner, start: i, end: after });
                }
                i = after.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

fn escaped(b: &[u8], i: usize) -> bool {
    i > 0 && b[i - 1] == b'\\'
}

/// End of a one-line `$…$` whose content starts at `from`.
fn inline_dollar(text: &str, from: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut j = from;
    while j < b.len() {
        match b[j] {
            b'\n' => return None,
            b'$' if !escaped(b, j) => return (j > from).then_some(j),
            _ => j += 1,
        }
    }
    None
}

/// `\frac{-3}{4}` with plain numbers: the end offset.
fn simple_fraction(text: &str, at: usize) -> Option<usize> {
    let rest = &text[at + 5..];
    let group = |s: &str| -> Option<usize> {
        let body = s.strip_prefix('{')?;
        let close = body.find('}')?;
        let inner = body[..close].trim_start_matches('-');
        (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',')).then_some(close + 2)
    };
    let a = group(rest)?;
    let b = group(&rest[a..])?;
    Some(at + 5 + a + b)
}

/// A `%`, `\%`, "percent", "percentage" or "pct" right after `at`.
fn percent_after(text: &str, at: usize) -> (bool, usize) {
    let rest = &text[at.min(text.len())..];
    let trimmed = rest.trim_start();
    let skip = rest.len() - trimmed.len();
    let head: String = trimmed.chars().take(10).collect::<String>().to_ascii_lowercase();
    for w in ["\\%", "%", "percentage", "percent", "pct"] {
        if head.starts_with(w) {
            return (true, at + skip + w.len());
        }
    }
    (false, at)
}

/// Plain numbers and arithmetic, anchored after a space, `=` or the start (so `AZYUK2A` holds
/// no number), read as Math-Verify's expression extraction reads them: `1,000.99` and
/// `1 000` group thousands, `2,74` has a decimal comma, `%` follows.
fn plain_numbers(text: &str) -> Vec<Hit> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let anchored =
            i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b'=' || (i >= 2 && &b[i - 2..i] == b"**");
        if !anchored {
            i += 1;
            continue;
        }
        let mut s = i;
        if b[s..].starts_with(b"**") {
            s += 2;
        }
        // A currency sign may precede the number (not an expression).
        let currency = text[s..].chars().next().filter(|c| "$€£¥₹".contains(*c)).map_or(0, char::len_utf8);
        if let Some((answer, end)) = arithmetic(text, s) {
            out.push(Hit { answer, start: i, end });
            i = end;
        } else if let Some((answer, end)) = number_at(text, s + currency) {
            out.push(Hit { answer, start: i, end });
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// `2/3`, `(9+1)`, `5 \times 6`: digits, spaces and `+-*×/^()÷.` with at least one operator,
/// starting with a digit (after an optional sign or bracket) and followed by punctuation,
/// space, `)`, `$` or the end.
fn arithmetic(text: &str, at: usize) -> Option<(String, usize)> {
    let rest = &text[at..];
    let body = rest.trim_start_matches(['-', '(']);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    // Arithmetic answers are short; the bound keeps digit-and-space runs linear to scan.
    let len: usize = rest
        .char_indices()
        .take(MAX_ARITHMETIC)
        .take_while(|(_, c)| c.is_ascii_digit() || " .+-*×/^()÷".contains(*c))
        .map(|(i, c)| i + c.len_utf8())
        .last()?;
    let mut expr = rest[..len].trim_end_matches([' ', '.']);
    while expr.ends_with(['+', '-', '*', '/', '^', '×', '÷', '(']) {
        expr = expr[..expr.len() - 1].trim_end();
    }
    let ops = expr.chars().skip(1).filter(|c| "+-*×/^÷".contains(*c)).count();
    if ops == 0 || expr.split_whitespace().count() > 1 && !expr.contains(['+', '-', '*', '/', '^', '×', '÷']) {
        return None;
    }
    if expr.matches('(').count() != expr.matches(')').count() {
        return None;
    }
    let end = at + expr.len();
    let next = text[end..].chars().next();
    if !next.is_none_or(|c| ".,: )$\n\t".contains(c)) {
        return None;
    }
    Some((expr.replace('×', "*").replace('÷', "/"), end))
}

/// A number at `at` in one of Math-Verify's four forms, canonical (`1,000.99` → `1000.99`,
/// `2,74` → `2.74`, `007` → `7`), with a trailing percent kept as `%`.
fn number_at(text: &str, at: usize) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut i = at;
    let neg = b.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    let digits = |k: usize| b[k.min(b.len())..].iter().take_while(|c| c.is_ascii_digit()).count();
    let lead = digits(i);
    let (mut int, mut frac, mut end);
    if lead == 0 {
        // `.5`
        if b.get(i) == Some(&b'.') && digits(i + 1) > 0 {
            int = "0".to_string();
            frac = text[i + 1..i + 1 + digits(i + 1)].to_string();
            end = i + 1 + frac.len();
        } else {
            return None;
        }
    } else {
        int = text[i..i + lead].to_string();
        end = i + lead;
        let mut grouped = false;
        if (1..=3).contains(&lead) && b[i] != b'0' {
            while matches!(b.get(end), Some(b',' | b' ')) && digits(end + 1) == 3 {
                int.push_str(&text[end + 1..end + 4]);
                end += 4;
                grouped = true;
            }
        }
        frac = String::new();
        let dec = b.get(end).copied();
        if (dec == Some(b'.') || (dec == Some(b',') && !grouped)) && digits(end + 1) > 0 {
            frac = text[end + 1..end + 1 + digits(end + 1)].to_string();
            end += 1 + frac.len();
        }
    }
    let trimmed = int.trim_start_matches('0');
    int = if trimmed.is_empty() { "0".into() } else { trimmed.to_string() };
    let mut answer = if neg { format!("-{int}") } else { int };
    if !frac.is_empty() {
        answer = format!("{answer}.{frac}");
    }
    let (pct, after) = percent_after(text, end);
    if pct {
        answer.push('%');
        end = after;
    }
    Some((answer, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(s: &str) -> String {
        candidates(s).first().map(|e| e.answer.clone()).unwrap_or_default()
    }

    #[test]
    fn numbers_read_as_math_verify_reads_them() {
        assert_eq!(first("Soucis : 2,74 $ a.."), "2.74");
        assert_eq!(first("the number is not 10 which is 1,000.99€"), "1000.99");
        assert_eq!(first("1 000"), "1000");
        assert_eq!(first("AZYUK2A"), "");
        assert_eq!(first("It is 28 percent"), "28%");
        assert_eq!(first("So P = 2/3. Done"), "2/3");
    }

    #[test]
    fn spans_and_phrases() {
        assert_eq!(first("so $3$ and $\\frac{1}{2}$"), "3, \\frac{1}{2}");
        assert_eq!(first("Final Answer: The largest $n$ is 34."), "34");
        assert_eq!(first("x $1$ y \\boxed{2} z $3$"), "2");
        assert_eq!(first("\\boxed{1} papers and \\boxed{2} bins"), "1, 2");
        assert_eq!(first("\\boxed{1} no no no no no \\boxed{2}"), "2");
        assert_eq!(first("Answer $ 9 $"), "9");
        assert_eq!(first("$\\boxed{28}$ pct"), "28\\%");
    }
}
