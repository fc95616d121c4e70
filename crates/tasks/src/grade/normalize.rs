//! Text clean-up before answers are compared: math delimiters, spacing commands, `\dfrac`,
//! `\frac34`, degrees, `\%`, `\$`, `\text{}` wrappers (whole answers), and units and `x =`
//! prefixes (single answers, see `clean_scalar`). Only surface form goes; values stay.

use crate::extract::{last_boxed, matching_brace};

/// Whole-answer normalization (before tuples, sets and lists are split).
pub fn normalize(answer: &str) -> String {
    let mut s = answer.trim().to_string();
    for (from, to) in [
        ("−", "-"),
        ("–", "-"),
        ("×", "\\times "),
        ("÷", "\\div "),
        ("·", "\\cdot "),
        ("√", "\\sqrt"),
        ("π", "\\pi "),
        ("∞", "\\infty "),
        ("∪", "\\cup "),
        ("≤", "\\le "),
        ("≥", "\\ge "),
        ("≠", "\\ne "),
        ("°", "^\\circ"),
    ] {
        s = s.replace(from, to);
    }
    if (s.starts_with("\\boxed") || s.starts_with("\\fbox"))
        && let Some(inner) = last_boxed(&s)
    {
        s = inner;
    }
    s = s.replace("\\$", " ").replace('$', " ");
    for (open, close) in [("\\(", "\\)"), ("\\[", "\\]")] {
        let t = s.trim();
        if let Some(inner) = t.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            s = inner.to_string();
        }
    }
    for (from, to) in [
        ("\\displaystyle", " "),
        ("\\left", ""),
        ("\\right", ""),
        ("\\!", ""),
        ("\\,", ""),
        ("\\;", " "),
        ("\\:", " "),
        ("\\qquad", " "),
        ("\\quad", " "),
        ("\\ ", " "),
        ("~", " "),
        ("{,}", ","),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("\\cfrac", "\\frac"),
        ("\\leq", "\\le"),
        ("\\geq", "\\ge"),
        ("\\neq", "\\ne"),
        ("^{\\circ}", ""),
        ("^\\circ", ""),
        ("\\circ", ""),
        ("\\degree", ""),
        ("\\%", "%"),
        (" percent", "%"),
        ("infinity", "\\infty"),
    ] {
        s = s.replace(from, to);
    }
    s = unwrap_text_commands(&s);
    s = brace_short_arguments(&s, "\\frac", 2);
    s = brace_short_arguments(&s, "\\sqrt", 1);
    let mut s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    while s.ends_with('.') && !s.ends_with("..") {
        s.pop();
        s.truncate(s.trim_end().len());
    }
    s
}

const TEXT_COMMANDS: [&str; 10] = [
    "\\textbf",
    "\\textit",
    "\\textnormal",
    "\\textrm",
    "\\text",
    "\\mathrm",
    "\\mathbf",
    "\\mathit",
    "\\mbox",
    "\\operatorname",
];

/// `\text{ or }` → ` or `; keeps the contents of every text-style wrapper.
fn unwrap_text_commands(s: &str) -> String {
    let mut out = s.to_string();
    'outer: loop {
        for cmd in TEXT_COMMANDS {
            let mut from = 0;
            while let Some(rel) = out[from..].find(cmd) {
                let at = from + rel;
                let after = at + cmd.len();
                // `\text` must not match the start of `\textbf`.
                if out[after..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                    from = after;
                    continue;
                }
                let rest = out[after..].trim_start();
                let skipped = out.len() - after - rest.len();
                if let Some(body) = rest.strip_prefix('{')
                    && let Some(close) = matching_brace(body)
                {
                    let inner = body[..close].to_string();
                    let end = after + skipped + 1 + close + 1;
                    out = format!("{} {} {}", &out[..at], inner, &out[end..]);
                    continue 'outer;
                }
                from = after;
            }
        }
        return out;
    }
}

/// `\frac34` → `\frac{3}{4}`, `\sqrt2` → `\sqrt{2}`: brace one-token arguments.
fn brace_short_arguments(s: &str, cmd: &str, args: usize) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(at) = rest.find(cmd) {
        let after = &rest[at + cmd.len()..];
        if after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out.push_str(&rest[..at + cmd.len()]);
            rest = after;
            continue;
        }
        out.push_str(&rest[..at + cmd.len()]);
        let mut tail = after;
        if cmd == "\\sqrt"
            && tail.trim_start().starts_with('[')
            && let Some(close) = tail.find(']')
        {
            out.push_str(&tail[..=close]);
            tail = &tail[close + 1..];
        }
        for _ in 0..args {
            let trimmed = tail.trim_start();
            if let Some(body) = trimmed.strip_prefix('{') {
                let Some(close) = matching_brace(body) else {
                    break;
                };
                out.push('{');
                out.push_str(&body[..=close]);
                tail = &body[close + 1..];
            } else if let Some(token) = first_token(trimmed) {
                out.push('{');
                out.push_str(token);
                out.push('}');
                tail = &trimmed[token.len()..];
            } else {
                break;
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// One character, or one `\command`.
fn first_token(s: &str) -> Option<&str> {
    let mut chars = s.char_indices();
    let (_, c) = chars.next()?;
    if c == '\\' {
        let end = s[1..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(s.len(), |p| p + 1);
        return (end > 1).then(|| &s[..end]);
    }
    if c == '}' || c == '{' {
        return None;
    }
    Some(&s[..c.len_utf8()])
}

/// Unit words dropped after a number; single letters stay since they are usually variables.
const UNITS: &[&str] = &[
    "cm", "mm", "km", "meter", "meters", "metre", "metres", "inch", "inches", "ft", "feet", "foot",
    "yd", "yard", "yards", "mile", "miles", "mph", "kph", "kg", "gram", "grams", "mg", "lb", "lbs",
    "pound", "pounds", "ounce", "ounces", "oz", "dollar", "dollars", "cent", "cents", "euro",
    "euros", "degree", "degrees", "radian", "radians", "unit", "units", "sq", "square", "cubic",
    "hour", "hours", "hr", "hrs", "minute", "minutes", "min", "mins", "second", "seconds", "sec",
    "secs", "day", "days", "week", "weeks", "month", "months", "year", "years", "liter", "liters",
    "litre", "litres", "ml", "gallon", "gallons", "mi", "km/h",
];

fn is_unit(word: &str) -> bool {
    UNITS.contains(&word.to_ascii_lowercase().as_str())
}

/// Per-answer clean-up: trailing unit words, words after a plain number (`5 apples`), a
/// leading `x =` (or `x \in`) for a single variable, and a trailing period.
pub fn clean_scalar(s: &str) -> String {
    let mut s = s.trim().trim_end_matches('.').trim().to_string();
    s = strip_units(&s);
    if let Some(number) = number_before_words(&s) {
        s = number.to_string();
    }
    if let Some(rhs) = strip_variable_prefix(&s) {
        s = rhs.to_string();
    }
    s.trim().to_string()
}

/// `5 apples`, `18.50 per day`, `50% off` → the number; only when every word after it is
/// plain letters of length ≥ 2 (so `2 x` stays an expression).
fn number_before_words(s: &str) -> Option<&str> {
    let end = s.find(|c: char| !(c.is_ascii_digit() || ".,-+/%".contains(c)))?;
    let (number, rest) = s.split_at(end);
    let words_only = rest.starts_with(char::is_whitespace)
        && rest.split_whitespace().all(|w| {
            let w = w.trim_end_matches(['.', ',', '!']);
            w.len() >= 2 && w.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
        });
    let valid = words_only && crate::grade::number::parse_number(number).is_some();
    valid.then_some(number)
}

fn strip_units(s: &str) -> String {
    let mut s = s.trim().to_string();
    loop {
        let mut t = s.trim_end();
        for power in ["^2", "^3", "^{2}", "^{3}"] {
            if let Some(rest) = t.strip_suffix(power)
                && rest.trim_end().ends_with(|c: char| c.is_ascii_alphabetic())
            {
                t = rest.trim_end();
                break;
            }
        }
        let word_start = t.trim_end_matches(|c: char| c.is_ascii_alphabetic()).len();
        let (before, word) = t.split_at(word_start);
        let accepted = word.len() >= 2
            && is_unit(word)
            && !before.ends_with('\\')
            && before.contains(|c: char| c.is_ascii_digit() || c == '}')
            && before.ends_with(|c: char| c.is_whitespace() || c.is_ascii_digit() || c == '}');
        if !accepted {
            return s;
        }
        s = before.trim_end().to_string();
    }
}

/// `x = 5` → `5`, `\theta=\pi` → `\pi`, `x_1 = 3` → `3` (only a lone variable on the left).
pub(crate) fn strip_variable_prefix(s: &str) -> Option<&str> {
    let (lhs, rhs) = s.split_once('=').or_else(|| s.split_once("\\in "))?;
    if rhs.contains('=') || rhs.trim().is_empty() {
        return None;
    }
    let lhs = lhs.trim();
    let name = lhs.split_once('_').map_or(lhs, |(n, _)| n);
    let simple = name.len() == 1 && name.chars().all(|c| c.is_ascii_alphabetic());
    let greek = name.starts_with('\\')
        && name.len() > 2
        && name[1..].chars().all(|c| c.is_ascii_alphabetic());
    let subscript_ok = lhs.split_once('_').is_none_or(|(_, sub)| {
        sub.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '{' || c == '}')
    });
    (simple || greek).then_some(())?;
    subscript_ok.then(|| rhs.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_and_spacing() {
        assert_eq!(normalize("$\\dfrac{3}{4}$"), "\\frac{3}{4}");
        assert_eq!(normalize("\\tfrac34"), "\\frac{3}{4}");
        assert_eq!(normalize("\\frac1{2}"), "\\frac{1}{2}");
        assert_eq!(normalize("\\sqrt2"), "\\sqrt{2}");
        assert_eq!(normalize("\\boxed{5}"), "5");
        assert_eq!(normalize("\\$1{,}234.50"), "1,234.50");
        assert_eq!(normalize("90^\\circ"), "90");
        assert_eq!(normalize("75\\%"), "75%");
        assert_eq!(normalize("3 \\text{ or } 4"), "3 or 4");
        assert_eq!(normalize("\\left( 1, 2 \\right)"), "( 1, 2 )");
        assert_eq!(normalize("\\textbf{Monday}."), "Monday");
    }

    #[test]
    fn scalars() {
        assert_eq!(clean_scalar("5 cm"), "5");
        assert_eq!(clean_scalar("12 square feet"), "12");
        assert_eq!(clean_scalar("5 cm^2"), "5");
        assert_eq!(clean_scalar("x = 5"), "5");
        assert_eq!(clean_scalar("\\theta = \\pi"), "\\pi");
        assert_eq!(clean_scalar("x_1 = 3"), "3");
        assert_eq!(clean_scalar("5x"), "5x");
        assert_eq!(clean_scalar("2 m"), "2 m");
        assert_eq!(clean_scalar("x + y = 3"), "x + y = 3");
        assert_eq!(clean_scalar("\\sec"), "\\sec");
        assert_eq!(clean_scalar("5 apples"), "5");
        assert_eq!(clean_scalar("50% off"), "50%");
        assert_eq!(clean_scalar("2 x"), "2 x");
        assert_eq!(clean_scalar("x \\in (1, 2)"), "(1, 2)");
    }
}
