//! The shape of an answer: one value, an ordered tuple or interval `(1, 2)` / `[1, 3)`, a set
//! `\{1, 2\}`, an unordered list `1, 2` / `a or b`, or a union of intervals; and equality on
//! shapes (order matters for tuples and intervals, not for sets, lists and unions).

use crate::grade::number::parse_decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Scalar(String),
    /// Tuples and intervals, with their bracket characters.
    Tuple {
        open: char,
        close: char,
        items: Vec<Answer>,
    },
    Set(Vec<Answer>),
    List(Vec<Answer>),
    Union(Vec<Answer>),
}

/// Splits a normalized answer into its shape.
pub fn parse_answer(s: &str) -> Answer {
    let s = s.trim();
    // `x \in [1, 3)`, `S = \{1, 2\}`: the shape is the right-hand side's.
    if let Some(rhs) = crate::grade::normalize::strip_variable_prefix(s) {
        return parse_answer(rhs);
    }
    if is_grouped_number(s) {
        return Answer::Scalar(s.to_string());
    }
    let union = split_top_level(s, &["\\cup"]);
    if union.len() > 1 {
        return Answer::Union(union.iter().map(|p| parse_answer(p)).collect());
    }
    if let Some(inner) = s.strip_prefix("\\{").and_then(|r| r.strip_suffix("\\}"))
        && wraps_whole(s, 1)
    {
        return Answer::Set(split_items(inner).iter().map(|p| parse_answer(p)).collect());
    }
    let (first, last) = (
        s.chars().next().unwrap_or(' '),
        s.chars().last().unwrap_or(' '),
    );
    if "([".contains(first) && ")]".contains(last) && wraps_whole(s, 0) {
        let inner = &s[1..s.len() - 1];
        let items = split_items(inner);
        if items.len() > 1 {
            let items = items.iter().map(|p| parse_answer(p)).collect();
            return Answer::Tuple {
                open: first,
                close: last,
                items,
            };
        }
    }
    let items = split_list(s);
    if items.len() > 1 {
        return Answer::List(items.iter().map(|p| parse_answer(p)).collect());
    }
    // `1 \pm \sqrt{2}` stands for two answers.
    let pm = split_top_level(s, &["\\pm"]);
    if pm.len() == 2 {
        let (a, b) = (pm[0].trim(), pm[1].trim());
        return Answer::List(vec![
            Answer::Scalar(format!("{a} + {b}")),
            Answer::Scalar(format!("{a} - {b}")),
        ]);
    }
    Answer::Scalar(s.to_string())
}

/// `1,234` or `1,234.5`: commas as thousands separators, not a list.
fn is_grouped_number(s: &str) -> bool {
    let body = s.trim_start_matches(['-', '+']).trim_end_matches('%');
    body.contains(',') && parse_decimal(body).is_some()
}

/// Does the bracket opened at byte `at` close at the very end of `s`?
fn wraps_whole(s: &str, at: usize) -> bool {
    let mut depth = 0i32;
    for (i, c) in s.char_indices().skip_while(|&(i, _)| i < at) {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + c.len_utf8() == s.len();
                }
            }
            _ => {}
        }
    }
    false
}

/// Splits at separators that are outside every bracket.
fn split_top_level<'a>(s: &'a str, separators: &[&str]) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let c = rest.chars().next().unwrap_or(' ');
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if depth == 0
            && let Some(sep) = separators.iter().find(|sep| rest.starts_with(**sep))
        {
            parts.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += c.len_utf8();
    }
    parts.push(&s[start..]);
    parts.into_iter().map(str::trim).collect()
}

/// Items of a tuple, set or interval.
fn split_items(s: &str) -> Vec<&str> {
    split_top_level(s, &[","])
}

/// A bare list: commas, semicolons, "or", "and".
fn split_list(s: &str) -> Vec<&str> {
    let parts = split_top_level(s, &[",", ";", " or ", " and "]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty() && *p != "or" && *p != "and")
        .collect()
}

/// Equality of shapes, with `scalar_equal` for the values inside.
pub fn answers_equal(a: &Answer, b: &Answer, scalar_equal: &dyn Fn(&str, &str) -> bool) -> bool {
    use Answer::*;
    match (a, b) {
        (Scalar(x), Scalar(y)) => scalar_equal(x, y),
        (
            Tuple {
                open: o1,
                close: c1,
                items: i1,
            },
            Tuple {
                open: o2,
                close: c2,
                items: i2,
            },
        ) => {
            o1 == o2
                && c1 == c2
                && i1.len() == i2.len()
                && i1
                    .iter()
                    .zip(i2)
                    .all(|(x, y)| answers_equal(x, y, scalar_equal))
        }
        (Set(x) | List(x), Set(y) | List(y)) | (Union(x), Union(y)) => {
            unordered_equal(x, y, scalar_equal)
        }
        _ => false,
    }
}

/// Same items in any order, counting repeats. Answer equality is an equivalence, so matching
/// each item to the first unused equal one is exact (no backtracking, no blow-up).
fn unordered_equal(a: &[Answer], b: &[Answer], scalar_equal: &dyn Fn(&str, &str) -> bool) -> bool {
    if a.len() != b.len() || a.len() > 200 {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|x| {
        let hit = (0..b.len()).find(|&j| !used[j] && answers_equal(x, &b[j], scalar_equal));
        hit.map(|j| used[j] = true).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(s: &str) -> Answer {
        Answer::Scalar(s.into())
    }

    #[test]
    fn shapes() {
        assert_eq!(parse_answer("1,234"), scalar("1,234"));
        assert_eq!(
            parse_answer("(1, 2)"),
            Answer::Tuple {
                open: '(',
                close: ')',
                items: vec![scalar("1"), scalar("2")]
            }
        );
        assert_eq!(
            parse_answer("[1,3)"),
            Answer::Tuple {
                open: '[',
                close: ')',
                items: vec![scalar("1"), scalar("3")]
            }
        );
        assert_eq!(
            parse_answer("\\{1,2\\}"),
            Answer::Set(vec![scalar("1"), scalar("2")])
        );
        assert_eq!(
            parse_answer("3 or 4"),
            Answer::List(vec![scalar("3"), scalar("4")])
        );
        assert_eq!(parse_answer("(x+1)"), scalar("(x+1)"));
        assert_eq!(parse_answer("(1)(2)"), scalar("(1)(2)"));
        assert!(
            matches!(parse_answer("(-\\infty, 1) \\cup (2, \\infty)"), Answer::Union(v) if v.len() == 2)
        );
        assert!(matches!(parse_answer("1 \\pm \\sqrt{2}"), Answer::List(v) if v.len() == 2));
        assert!(matches!(parse_answer("f(1, 2)"), Answer::Scalar(_)));
    }
}
