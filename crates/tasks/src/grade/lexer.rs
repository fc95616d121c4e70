//! Tokens of a LaTeX or plain-text math answer. Surface noise goes here, once: spacing commands,
//! `\left`/`\right`, `\dfrac`, degrees, `\$`, thin-space and `{,}` thousands separators,
//! `\text{…}` (words become one token, numbers and letters are read as math), unicode symbols.

/// One token; relations and list separators are already told apart from operators.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Digits with an optional `.fraction`, separators removed (`14{,}916` is `14916`).
    Num(String),
    /// A single letter (or a letter-like symbol such as `\alpha`, spelled `\alpha`).
    Ident(String),
    /// A command without its backslash: `frac`, `sqrt`, `sin`, `pi`, `infty`, `begin:pmatrix`.
    Cmd(String),
    /// Words from `\text{…}` or a run of plain letters that reads as a word (`percent`).
    Word(String),
    /// `+ - * / ^ _ ! | ( ) [ ] { } : & '` (and `,` `;`).
    Sym(char),
    /// `\{` and `\}`.
    SetOpen,
    SetClose,
    /// `\\`: a matrix row break.
    RowSep,
    Rel(Rel),
    /// `\cup`, `\pm`, `%`.
    Cup,
    Pm,
    Percent,
    /// "and", "or": list separators written as words.
    And,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
    Ne,
    Approx,
    In,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the answer: {0}")]
pub struct LexError(pub String);

/// Commands that only change spacing, size or style: dropped.
const NOISE: &[&str] = &[
    "left",
    "right",
    "big",
    "Big",
    "bigg",
    "Bigg",
    "bigl",
    "bigr",
    "Bigl",
    "Bigr",
    "displaystyle",
    "textstyle",
    "quad",
    "qquad",
    "space",
    "hspace",
    "!",
    ",",
    ";",
    ":",
    " ",
    "limits",
    "nolimits",
    "middle",
    "mathit",
    "boldsymbol",
    "bm",
    "bf",
    "it",
    "rm",
    "mathbf",
];
/// Commands whose argument is text (words) or a plain value.
const TEXT_COMMANDS: &[&str] = &[
    "text",
    "textbf",
    "textit",
    "textrm",
    "textnormal",
    "mathrm",
    "mbox",
    "operatorname",
    "textsf",
    "texttt",
    "mathsf",
    "mathtt",
    "emph",
    "hbox",
];

pub fn lex(s: &str) -> Result<Vec<Tok>, LexError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    lex_into(&chars, &mut out, 0)?;
    Ok(out)
}

fn lex_into(c: &[char], out: &mut Vec<Tok>, depth: usize) -> Result<(), LexError> {
    if depth > 8 {
        return Err(LexError("text nested too deeply".into()));
    }
    let mut i = 0;
    let mut brackets = 0usize;
    while i < c.len() {
        let ch = c[i];
        match ch {
            '(' | '[' | '{' => brackets += 1,
            ')' | ']' | '}' => brackets = brackets.saturating_sub(1),
            _ => {}
        }
        if ch.is_whitespace() || ch == '~' {
            i += 1;
        } else if ch.is_ascii_digit() || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit)) {
            i = number(c, i, out, brackets == 0);
        } else if ch == '\\' {
            i = command(c, i, out, depth)?;
        } else if ch.is_alphabetic() {
            let end = i + c[i..].iter().take_while(|x| x.is_alphabetic()).count();
            let word: String = c[i..end].iter().collect();
            // `5 apples`, `30 degrees`: a word set apart after a number is a unit.
            let after_number = matches!(out.last(), Some(Tok::Num(_))) && i > 0 && c[i - 1].is_whitespace();
            if after_number
                && word.chars().count() >= 2
                && !FUNCTIONS.contains(&word.as_str())
                && word != "and"
                && word != "or"
            {
                out.push(Tok::Word(word));
            } else {
                letters(&word, out);
            }
            i = end;
        } else if ch == '.' {
            i += 1; // a full stop after an answer
        } else {
            i += 1;
            let two = c.get(i).copied();
            let tok = match (ch, two) {
                ('<', Some('=')) | ('≤', _) | ('⩽', _) => Tok::Rel(Rel::Le),
                ('>', Some('=')) | ('≥', _) | ('⩾', _) => Tok::Rel(Rel::Ge),
                ('!', Some('=')) | ('≠', _) => Tok::Rel(Rel::Ne),
                ('=', Some('=')) => Tok::Rel(Rel::Eq),
                ('<', _) => Tok::Rel(Rel::Lt),
                ('>', _) => Tok::Rel(Rel::Gt),
                ('=', _) => Tok::Rel(Rel::Eq),
                ('≈', _) => Tok::Rel(Rel::Approx),
                ('∈', _) => Tok::Rel(Rel::In),
                ('%', _) => Tok::Percent,
                ('±', _) => Tok::Pm,
                ('∪', _) => Tok::Cup,
                ('−' | '–', _) => Tok::Sym('-'),
                ('×' | '·' | '⋅', _) => Tok::Sym('*'),
                ('÷', _) => Tok::Sym('/'),
                ('π', _) => Tok::Cmd("pi".into()),
                ('∞', _) => Tok::Cmd("infty".into()),
                ('√', _) => Tok::Cmd("sqrt".into()),
                ('²', _) => {
                    out.extend([Tok::Sym('^'), Tok::Num("2".into())]);
                    continue;
                }
                ('³', _) => {
                    out.extend([Tok::Sym('^'), Tok::Num("3".into())]);
                    continue;
                }
                ('°' | '$' | '€' | '£' | '¥' | '"' | '`' | '?', _) => continue,
                ('&', _) => Tok::Sym('&'),
                (x, _) if "+-*/^_!|()[]{}:,;'".contains(x) => Tok::Sym(x),
                (x, _) => return Err(LexError(format!("unexpected '{x}'"))),
            };
            if matches!(tok, Tok::Rel(Rel::Le | Rel::Ge | Rel::Ne | Rel::Eq)) && "<>!=".contains(ch) && two == Some('=')
            {
                i += 1;
            }
            // `^\circ` / `^{\circ}`: degrees carry no value.
            if tok == Tok::Sym('^') && degree_at(c, i).is_some() {
                i = degree_at(c, i).unwrap_or(i);
                continue;
            }
            out.push(tok);
        }
    }
    Ok(())
}

/// End of `\circ` or `{\circ}` starting at `i`, if it is there.
fn degree_at(c: &[char], i: usize) -> Option<usize> {
    let rest: String = c[i..c.len().min(i + 10)].iter().filter(|x| !x.is_whitespace()).collect();
    if rest.starts_with("{\\circ}") {
        let close = c[i..].iter().position(|&x| x == '}')?;
        Some(i + close + 1)
    } else if rest.starts_with("\\circ") {
        let at = c[i..].iter().position(|&x| x == '\\')?;
        Some(i + at + 5)
    } else {
        None
    }
}

/// Plain letters: unit-ish words stay words, "and"/"or" separate, others are single letters
/// (implicit multiplication, as LaTeX math reads `xy`).
fn letters(word: &str, out: &mut Vec<Tok>) {
    match word {
        "and" | "or" => out.push(Tok::And),
        // Three letters or more read as a word (`Monday`, `odd`), not a product of variables.
        w if w.chars().count() >= 3 && !FUNCTIONS.contains(&w) => out.push(Tok::Word(w.to_string())),
        // Inside math a percent word is a unit, as Math-Verify drops it (`28 \text{ percentage}`
        // is 28); plain-text "28 percent" becomes `28%` during extraction.
        "percent" | "percentage" | "pct" | "Percent" | "Percentage" => out.push(Tok::Word(word.to_string())),
        w if FUNCTIONS.contains(&w) => out.push(Tok::Cmd(w.to_string())),
        w => out.extend(w.chars().map(|ch| Tok::Ident(ch.to_string()))),
    }
}

pub const FUNCTIONS: &[&str] = &[
    "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "ln", "log", "exp",
    "sqrt",
];

/// A number from `i`: digits, thousands groups joined by `,` + 3 digits, `{,}`, `,\!`, `\,`, `\ `,
/// or a space + 3 digits (only after a 1–3 digit lead, as `1 000` is written), and a decimal part.
/// Inside brackets a bare comma separates items: `(12,102)` is a pair.
fn number(c: &[char], start: usize, out: &mut Vec<Tok>, top: bool) -> usize {
    let mut text = String::new();
    let mut i = start;
    while i < c.len() && c[i].is_ascii_digit() {
        text.push(c[i]);
        i += 1;
    }
    let lead_ok = (1..=3).contains(&text.len()) && !text.starts_with('0');
    if lead_ok {
        while let Some(after) = separator_end(c, i, top) {
            let group: String = c[after..c.len().min(after + 3)].iter().collect();
            let next = c.get(after + 3);
            if group.len() == 3 && group.chars().all(|d| d.is_ascii_digit()) && !next.is_some_and(char::is_ascii_digit)
            {
                text.push_str(&group);
                i = after + 3;
            } else {
                break;
            }
        }
    }
    if c.get(i) == Some(&'.') && c.get(i + 1).is_some_and(char::is_ascii_digit) {
        text.push('.');
        i += 1;
        while i < c.len() && c[i].is_ascii_digit() {
            text.push(c[i]);
            i += 1;
        }
    }
    // Scientific notation `1.5e3`, `2E-4` (an `e` between a number and digits is no constant).
    if matches!(c.get(i), Some('e' | 'E')) {
        let sign = usize::from(matches!(c.get(i + 1), Some('+' | '-')));
        let digits = c[(i + 1 + sign).min(c.len())..].iter().take_while(|d| d.is_ascii_digit()).count();
        if digits > 0 && digits <= 4 {
            text.push('e');
            text.extend(&c[i + 1..i + 1 + sign + digits]);
            i += 1 + sign + digits;
        }
    }
    out.push(Tok::Num(text));
    i
}

/// Where the digits after a thousands separator at `i` start.
fn separator_end(c: &[char], i: usize, top: bool) -> Option<usize> {
    let at = |k: usize, s: &str| s.chars().enumerate().all(|(j, x)| c.get(k + j) == Some(&x));
    for sep in ["{,}", "{, }", " {,}", " {, }", ",\\!", ",\\,", "\\,", "\\!", "\\ ", ",", " "] {
        if !top && (sep == "," || sep == " ") {
            continue;
        }
        if at(i, sep) {
            let mut j = i + sep.chars().count();
            if sep.starts_with(',') && sep.len() > 1 {
                while c.get(j) == Some(&' ') {
                    j += 1;
                }
            }
            return Some(j);
        }
    }
    None
}

fn command(c: &[char], i: usize, out: &mut Vec<Tok>, depth: usize) -> Result<usize, LexError> {
    let mut j = i + 1;
    let Some(&first) = c.get(j) else { return Ok(j) };
    if !first.is_ascii_alphabetic() {
        let tok = match first {
            '{' => Some(Tok::SetOpen),
            '}' => Some(Tok::SetClose),
            // `\\frac`: a doubled backslash before a command name (escaped strings).
            '\\' if c.get(j + 1).is_some_and(char::is_ascii_alphabetic) => {
                return command(c, j, out, depth);
            }
            '\\' => Some(Tok::RowSep),
            '%' => Some(Tok::Percent),
            '(' | ')' | '[' | ']' | '$' | ',' | '!' | ';' | ':' | ' ' | '>' | '|' => None,
            _ => None,
        };
        if let Some(t) = tok {
            out.push(t);
        } else if first == '|' {
            out.push(Tok::Sym('|'));
        }
        return Ok(j + 1);
    }
    while j < c.len() && c[j].is_ascii_alphabetic() {
        j += 1;
    }
    let name: String = c[i + 1..j].iter().collect();
    let arg = |j: usize| -> Option<(String, usize)> {
        let mut k = j;
        while c.get(k).is_some_and(|x| x.is_whitespace()) {
            k += 1;
        }
        if c.get(k) != Some(&'{') {
            return None;
        }
        let mut level = 0usize;
        for (n, &x) in c[k..].iter().enumerate() {
            match x {
                '{' => level += 1,
                '}' => {
                    level -= 1;
                    if level == 0 {
                        return Some((c[k + 1..k + n].iter().collect(), k + n + 1));
                    }
                }
                _ => {}
            }
        }
        None
    };
    let tok = match name.as_str() {
        n if NOISE.contains(&n) => {
            // `\left.` / `\right.` are invisible delimiters.
            if (n == "left" || n == "right") && c.get(j) == Some(&'.') {
                j += 1;
            }
            return Ok(j);
        }
        n if n.starts_with("quad") || n.starts_with("qquad") => {
            // `\quadx_{2}`: a spacing command glued to the next letters.
            let rest = n.strip_prefix("qquad").or_else(|| n.strip_prefix("quad")).unwrap_or(n);
            letters(rest, out);
            return Ok(j);
        }
        "hspace" | "vspace" | "pmod" | "tag" | "label" => {
            return Ok(arg(j).map_or(j, |(_, end)| end));
        }
        n if TEXT_COMMANDS.contains(&n) => {
            let Some((inner, end)) = arg(j) else {
                return Ok(j);
            };
            text_argument(&inner, out, depth)?;
            return Ok(end);
        }
        "begin" | "end" => {
            let Some((env, mut end)) = arg(j) else {
                return Err(LexError(format!("\\{name} without environment")));
            };
            if name == "begin" && env == "array" {
                end = arg(end).map_or(end, |(_, e)| e); // column spec `{cc}`
            }
            out.push(Tok::Cmd(format!("{name}:{}", env.trim_end_matches('*'))));
            return Ok(end);
        }
        "dfrac" | "tfrac" | "cfrac" | "frac" => Tok::Cmd("frac".into()),
        "dbinom" | "tbinom" | "binom" | "choose" => Tok::Cmd("binom".into()),
        "le" | "leq" | "leqslant" | "leqq" => Tok::Rel(Rel::Le),
        "ge" | "geq" | "geqslant" | "geqq" => Tok::Rel(Rel::Ge),
        "ne" | "neq" => Tok::Rel(Rel::Ne),
        "lt" => Tok::Rel(Rel::Lt),
        "gt" => Tok::Rel(Rel::Gt),
        "approx" | "simeq" | "sim" => Tok::Rel(Rel::Approx),
        "in" => Tok::Rel(Rel::In),
        "cup" => Tok::Cup,
        "pm" | "mp" => Tok::Pm,
        "cdot" | "times" | "ast" => Tok::Sym('*'),
        "div" => Tok::Sym('/'),
        "lbrace" => Tok::SetOpen,
        "rbrace" => Tok::SetClose,
        "vert" | "lvert" | "rvert" | "mid" => Tok::Sym('|'),
        "colon" => Tok::Sym(':'),
        "circ" | "degree" | "degrees" => return Ok(j),
        "dots" | "ldots" | "cdots" => Tok::Word("...".into()),
        "infty" | "infinity" | "inf" => Tok::Cmd("infty".into()),
        _ => Tok::Cmd(name),
    };
    out.push(tok);
    Ok(j)
}

/// `\text{…}`: a number, a letter or a bracketed choice is math; words stay one `Word`, except
/// the connectives "and"/"or" and percent words.
fn text_argument(inner: &str, out: &mut Vec<Tok>, depth: usize) -> Result<(), LexError> {
    let t = inner.trim();
    if t.is_empty() {
        return Ok(());
    }
    let lower = t.to_lowercase();
    match lower.as_str() {
        "and" | "or" | ",and" | ", and" => {
            out.push(Tok::And);
            return Ok(());
        }
        "%" => {
            out.push(Tok::Percent);
            return Ok(());
        }
        _ => {}
    }
    let wordy = t.chars().filter(|x| x.is_alphabetic()).count() >= 2 && !t.starts_with('\\');
    if wordy {
        out.push(Tok::Word(t.to_string()));
        return Ok(());
    }
    let chars: Vec<char> = t.chars().collect();
    lex_into(&chars, out, depth + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(s: &str) -> Vec<String> {
        lex(s).unwrap().into_iter().filter_map(|t| if let Tok::Num(n) = t { Some(n) } else { None }).collect()
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(nums("14{,}916"), ["14916"]);
        assert_eq!(nums("11,\\! 111,\\! 100"), ["11111100"]);
        assert_eq!(nums("1\\,000"), ["1000"]);
        assert_eq!(nums("1 000"), ["1000"]);
        assert_eq!(nums("10,455"), ["10455"]);
        // In brackets a comma separates; a space after the comma separates; `0,111` is no group.
        assert_eq!(nums("(12,102)"), ["12", "102"]);
        assert_eq!(nums("32, 349"), ["32", "349"]);
        assert_eq!(nums("1.5e3"), ["1.5e3"]);
    }

    #[test]
    fn surface_noise_goes() {
        let toks = lex("\\left( \\dfrac{1}{2} \\right)^\\circ \\text{ cm}").unwrap();
        assert_eq!(toks[0], Tok::Sym('('));
        assert_eq!(toks[1], Tok::Cmd("frac".into()));
        assert!(toks.contains(&Tok::Word("cm".into())));
        assert!(!toks.iter().any(|t| matches!(t, Tok::Cmd(c) if c == "left" || c == "circ")));
        assert_eq!(lex("x \\geq 5").unwrap()[1], Tok::Rel(Rel::Ge));
        assert_eq!(lex("x != 5").unwrap()[1], Tok::Rel(Rel::Ne));
        assert_eq!(lex("\\\\frac").unwrap(), [Tok::Cmd("frac".into())]);
    }
}
