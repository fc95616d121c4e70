//! Tokens → answer tree: lists, relations (chains included), unions, tuples, intervals, sets,
//! matrices, and expressions with implicit multiplication. Recursive descent with a depth bound,
//! so no answer can overflow the stack.

use super::expr::{Expr, Func};
use super::lexer::{Rel, Tok, lex};
use commands::number;
use num_rational::BigRational;
use num_traits::Zero;

mod commands;
mod matrix;

/// An answer's shape; expressions are the leaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Expr(Expr),
    /// Words (`\text{Evelyn}`).
    Text(String),
    /// `(a, b)`, `[a, b)`: kept with their brackets, read as a tuple or an interval by context.
    Tuple {
        open: char,
        close: char,
        items: Vec<Node>,
    },
    /// `\{a, b\}` or `{a, b}`.
    Set(Vec<Node>),
    /// `a, b`, `a and b`, `a; b`: unordered, as Math-Verify reads a bare list.
    List(Vec<Node>),
    Union(Vec<Node>),
    Matrix(Vec<Vec<Node>>),
    /// `a < b ≤ c`: parts and the relations between them.
    Rel(Vec<Node>, Vec<Rel>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse the answer: {0}")]
pub struct ParseError(pub String);

const MAX_DEPTH: usize = 60;

pub fn parse(s: &str) -> Result<Node, ParseError> {
    let toks = lex(s).map_err(|e| ParseError(e.0))?;
    if toks.is_empty() {
        return Err(ParseError("empty answer".into()));
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let node = p.list(&[])?;
    match p.peek() {
        None => Ok(node),
        Some(t) => Err(ParseError(format!("unexpected {t:?}"))),
    }
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("answer nested too deeply");
        }
        Ok(())
    }

    /// Items separated by `,` `;` "and" "or", up to one of `stops` (not consumed).
    fn list(&mut self, stops: &[Tok]) -> Result<Node, ParseError> {
        self.enter()?;
        let mut items = Vec::new();
        // Items between semicolons, when commas also separate: `p=5,q=2;p=7,q=2` is two groups.
        let mut groups: Vec<Vec<Node>> = vec![Vec::new()];
        let (mut commas, mut semicolons) = (false, false);
        loop {
            while self.eat(&Tok::And) {}
            match self.peek() {
                None => break,
                Some(t) if stops.contains(t) => break,
                _ => {}
            }
            let item = self.relation()?;
            items.push(item.clone());
            if let Some(g) = groups.last_mut() {
                g.push(item);
            }
            let mut separated = false;
            while let Some(t @ (Tok::Sym(',' | ';') | Tok::And)) = self.peek() {
                if *t == Tok::Sym(';') {
                    semicolons = true;
                    groups.push(Vec::new());
                } else {
                    commas = true;
                }
                self.pos += 1;
                separated = true;
            }
            if !separated {
                break;
            }
        }
        self.depth -= 1;
        groups.retain(|g| !g.is_empty());
        if commas && semicolons && groups.len() > 1 {
            let grouped = groups
                .into_iter()
                .map(|mut g| {
                    if g.len() == 1 {
                        g.pop().unwrap_or(Node::List(Vec::new()))
                    } else {
                        Node::Tuple { open: '(', close: ')', items: g }
                    }
                })
                .collect();
            return Ok(Node::List(grouped));
        }
        match items.len() {
            0 => err("empty list"),
            1 => Ok(items.pop().unwrap_or(Node::List(Vec::new()))),
            _ => Ok(Node::List(items)),
        }
    }

    fn relation(&mut self) -> Result<Node, ParseError> {
        let mut parts = vec![self.union()?];
        let mut rels = Vec::new();
        while let Some(Tok::Rel(r)) = self.peek() {
            let r = *r;
            self.pos += 1;
            rels.push(r);
            parts.push(self.union()?);
        }
        Ok(if rels.is_empty() { parts.pop().unwrap_or(Node::List(Vec::new())) } else { Node::Rel(parts, rels) })
    }

    fn union(&mut self) -> Result<Node, ParseError> {
        let mut parts = vec![self.value()?];
        while self.eat(&Tok::Cup) {
            parts.push(self.value()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Node::List(Vec::new())) } else { Node::Union(parts) })
    }

    /// A bracketed structure, a matrix, words, or an expression.
    fn value(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let start = self.pos;
        let node = self.structure()?;
        let node = match node {
            Some(n) if self.at_value_end() => n,
            _ => {
                self.pos = start;
                if let Some(Tok::Word(w)) = self.peek() {
                    let w = w.clone();
                    self.pos += 1;
                    let mut words = vec![w];
                    while let Some(Tok::Word(w)) = self.peek() {
                        words.push(w.clone());
                        self.pos += 1;
                    }
                    Node::Text(words.join(" "))
                } else {
                    Node::Expr(self.sum()?)
                }
            }
        };
        self.depth -= 1;
        Ok(node)
    }

    fn at_value_end(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(Tok::Sym(',' | ';' | ')' | ']' | '}' | '&'))
                | Some(Tok::And | Tok::Rel(_) | Tok::Cup | Tok::SetClose | Tok::RowSep)
        ) || matches!(self.peek(), Some(Tok::Cmd(c)) if c.starts_with("end:"))
    }

    /// `(…)`/`[…]` with several items, `\{…\}`, `{a, b}`, a matrix; `None` when it is none.
    fn structure(&mut self) -> Result<Option<Node>, ParseError> {
        match self.peek().cloned() {
            Some(Tok::Sym(open @ ('(' | '['))) => {
                self.pos += 1;
                let inner = self.list(&[Tok::Sym(')'), Tok::Sym(']')])?;
                let close = match self.peek() {
                    Some(Tok::Sym(c @ (')' | ']'))) => *c,
                    _ => return Ok(None),
                };
                self.pos += 1;
                Ok(match inner {
                    Node::List(items) => Some(Node::Tuple { open, close, items }),
                    Node::Matrix(_) => Some(inner),
                    _ => None,
                })
            }
            Some(Tok::SetOpen) => {
                self.pos += 1;
                if self.eat(&Tok::SetClose) {
                    return Ok(Some(Node::Set(Vec::new())));
                }
                let inner = self.list(&[Tok::SetClose])?;
                if !self.eat(&Tok::SetClose) {
                    return err("missing \\}");
                }
                Ok(Some(Node::Set(match inner {
                    Node::List(items) => items,
                    one => vec![one],
                })))
            }
            Some(Tok::Sym('{')) => {
                self.pos += 1;
                let inner = self.list(&[Tok::Sym('}')])?;
                if !self.eat(&Tok::Sym('}')) {
                    return err("missing }");
                }
                Ok(match inner {
                    Node::List(items) => Some(Node::Set(items)),
                    _ => None,
                })
            }
            Some(Tok::Cmd(c)) if c.starts_with("begin:") => {
                self.pos += 1;
                let m = self.matrix()?;
                Ok(Some(self.matrix_arithmetic(m)?))
            }
            _ => Ok(None),
        }
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut acc = match self.peek() {
            Some(Tok::Pm) => {
                self.pos += 1;
                Expr::PlusMinus(Box::new(Expr::Num(BigRational::zero())), Box::new(self.term()?))
            }
            _ => self.term()?,
        };
        loop {
            acc = match self.peek() {
                Some(Tok::Sym('+')) => {
                    self.pos += 1;
                    Expr::Add(Box::new(acc), Box::new(self.term()?))
                }
                Some(Tok::Sym('-')) => {
                    self.pos += 1;
                    Expr::Sub(Box::new(acc), Box::new(self.term()?))
                }
                Some(Tok::Pm) => {
                    self.pos += 1;
                    Expr::PlusMinus(Box::new(acc), Box::new(self.term()?))
                }
                _ => break,
            };
        }
        self.depth -= 1;
        Ok(acc)
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut acc = self.unary()?;
        loop {
            match self.peek() {
                Some(Tok::Sym('*')) => {
                    self.pos += 1;
                    acc = Expr::Mul(Box::new(acc), Box::new(self.unary()?));
                }
                Some(Tok::Sym('/' | ':')) => {
                    self.pos += 1;
                    acc = Expr::Div(Box::new(acc), Box::new(self.unary()?));
                }
                Some(Tok::Percent) => {
                    self.pos += 1;
                    acc = Expr::Percent(Box::new(acc));
                }
                // Units after a value: `5 \text{ cm}`, `15\mbox{ cm}^2`.
                Some(Tok::Word(_)) => {
                    self.pos += 1;
                    if self.eat(&Tok::Sym('^')) {
                        self.argument()?;
                    }
                }
                Some(t) if self.starts_factor(t) => {
                    // `2\frac{1}{2}` is the mixed number 5/2, as Math-Verify reads it.
                    let mixed =
                        matches!(t, Tok::Cmd(c) if c == "frac") && matches!(&acc, Expr::Num(n) if n.is_integer());
                    let rhs = self.power()?;
                    let plain_fraction =
                        matches!(&rhs, Expr::Div(a, b) if matches!(**a, Expr::Num(_)) && matches!(**b, Expr::Num(_)));
                    acc = if mixed && plain_fraction {
                        Expr::Add(Box::new(acc), Box::new(rhs))
                    } else {
                        Expr::Mul(Box::new(acc), Box::new(rhs))
                    };
                }
                _ => return Ok(acc),
            }
        }
    }

    fn starts_factor(&self, t: &Tok) -> bool {
        match t {
            Tok::Num(_) => !matches!(self.pos.checked_sub(1).and_then(|p| self.toks.get(p)), Some(Tok::Num(_))),
            Tok::Ident(_) | Tok::Sym('(' | '{') => true,
            Tok::Sym('[') => false,
            Tok::Cmd(c) => !c.starts_with("end:") && !c.starts_with("begin:"),
            _ => false,
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = match self.peek() {
            Some(Tok::Sym('-')) => {
                self.pos += 1;
                Expr::Neg(Box::new(self.unary()?))
            }
            Some(Tok::Sym('+')) => {
                self.pos += 1;
                self.unary()?
            }
            _ => self.power()?,
        };
        self.depth -= 1;
        Ok(e)
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.postfix()?;
        if self.eat(&Tok::Sym('^')) {
            let exponent =
                if self.eat(&Tok::Sym('-')) { Expr::Neg(Box::new(self.argument()?)) } else { self.argument()? };
            return Ok(Expr::Pow(Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Some(Tok::Sym('!')) => {
                    self.pos += 1;
                    e = Expr::Factorial(Box::new(e));
                }
                Some(Tok::Sym('\'')) => {
                    self.pos += 1;
                    e = match e {
                        Expr::Var(v) => Expr::Var(format!("{v}'")),
                        other => other,
                    };
                }
                Some(Tok::Sym('_')) => {
                    self.pos += 1;
                    let sub = self.subscript()?;
                    e = match e {
                        Expr::Var(v) => Expr::Var(format!("{v}_{sub}")),
                        Expr::Num(n) | Expr::Float(n) => Expr::Var(format!("{n}_{sub}")),
                        _ => return err("subscript on an expression"),
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    /// A subscript as text: `{n-k-1}` → `n-k-1`, `1` → `1`.
    fn subscript(&mut self) -> Result<String, ParseError> {
        let mut depth = 0i32;
        let mut text = String::new();
        while let Some(t) = self.peek().cloned() {
            self.pos += 1;
            match &t {
                Tok::Sym('{') => depth += 1,
                Tok::Sym('}') => depth -= 1,
                _ => text.push_str(&token_text(&t)),
            }
            if depth <= 0 {
                break;
            }
        }
        Ok(text)
    }

    /// A braced group or one primary (`\frac12`, `x^2`, `\sqrt3`).
    fn argument(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Some(Tok::Sym('{')) => {
                self.pos += 1;
                let e = self.sum()?;
                if !self.eat(&Tok::Sym('}')) {
                    return err("missing }");
                }
                Ok(e)
            }
            Some(Tok::Num(n)) if n.len() > 1 && !n.contains('.') => {
                // `\frac12`: one digit per argument.
                let n = n.clone();
                let (first, rest) = n.split_at(1);
                self.toks[self.pos] = Tok::Num(rest.to_string());
                number(first)
            }
            _ => self.postfix(),
        }
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let Some(t) = self.peek().cloned() else {
            return err("answer ends early");
        };
        self.pos += 1;
        let e = match t {
            Tok::Num(n) => number(&n)?,
            Tok::Ident(v) if v == "e" => Expr::E,
            Tok::Ident(v) => Expr::Var(v),
            Tok::Sym(open @ ('(' | '[' | '{')) => {
                let e = self.sum()?;
                let close = match open {
                    '(' => ')',
                    '[' => ']',
                    _ => '}',
                };
                if !self.eat(&Tok::Sym(close)) {
                    return err(format!("missing '{close}'"));
                }
                e
            }
            Tok::Sym('|') => {
                let e = self.sum()?;
                if !self.eat(&Tok::Sym('|')) {
                    return err("missing '|'");
                }
                Expr::Func(Func::Abs, Box::new(e))
            }
            Tok::Cmd(c) => self.command(&c)?,
            t => return err(format!("unexpected {t:?}")),
        };
        self.depth -= 1;
        Ok(e)
    }
}

/// A token written back as text (subscripts and canonical strings).
pub fn token_text(t: &Tok) -> String {
    match t {
        Tok::Num(n) => match n.trim_start_matches('0') {
            "" => "0".into(),
            digits => digits.to_string(),
        },
        Tok::Ident(s) | Tok::Word(s) => s.clone(),
        Tok::Cmd(c) => format!("\\{c}"),
        Tok::Sym(c) => c.to_string(),
        Tok::SetOpen => "\\{".into(),
        Tok::SetClose => "\\}".into(),
        Tok::RowSep => "\\\\".into(),
        Tok::Rel(r) => format!("{r:?}"),
        Tok::Cup => "\\cup".into(),
        Tok::Pm => "\\pm".into(),
        Tok::Percent => "%".into(),
        Tok::And => ",".into(),
    }
}

/// The answer's tokens as one canonical string: the last resort when it does not parse.
pub fn canonical(s: &str) -> Option<String> {
    let toks = lex(s).ok()?;
    Some(toks.iter().map(token_text).collect::<Vec<_>>().join(" ").to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(matches!(parse("(1, 2)"), Ok(Node::Tuple { open: '(', close: ')', .. })));
        assert!(matches!(parse("[1, 2)"), Ok(Node::Tuple { open: '[', close: ')', .. })));
        assert!(matches!(parse("\\{1, 2\\}"), Ok(Node::Set(items)) if items.len() == 2));
        assert!(matches!(parse("1, 2 and 3"), Ok(Node::List(items)) if items.len() == 3));
        assert!(matches!(parse("(1,2) \\cup [3, \\infty)"), Ok(Node::Union(parts)) if parts.len() == 2));
        assert!(matches!(parse("a < x \\le b"), Ok(Node::Rel(parts, _)) if parts.len() == 3));
        assert!(
            matches!(parse("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}"), Ok(Node::Matrix(rows)) if rows.len() == 2)
        );
        assert!(matches!(parse("\\text{Evelyn}"), Ok(Node::Text(_))));
        assert!(matches!(parse("(x+1)(x-1)"), Ok(Node::Expr(_))));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse("1 +").is_err());
        assert!(parse("(1 + 2").is_err());
        assert!(parse("").is_err());
        assert!(parse(&"(".repeat(500)).is_err());
        assert!(parse("\\begin{pmatrix} 1 & 2 \\\\ 3 \\end{pmatrix}").is_err());
    }
}
