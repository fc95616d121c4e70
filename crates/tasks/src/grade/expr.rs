//! A small parser for LaTeX-ish math expressions (+ − × ÷ ^, implicit multiplication, `\frac`,
//! `\sqrt`, `\pi`, `\cdot`, `\times`, parentheses, variables, a few functions) and the equality
//! test on them: exact rational evaluation where possible, else evaluation at random points.

use crate::rng::SplitMix64;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(BigRational),
    Var(String),
    Pi,
    Infinity,
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Sub(Box<Expr>, Box<Expr>),
    Mul(Box<Expr>, Box<Expr>),
    Div(Box<Expr>, Box<Expr>),
    Pow(Box<Expr>, Box<Expr>),
    /// (index, radicand): `\sqrt{x}` has index 2.
    Root(Box<Expr>, Box<Expr>),
    Func(Func, Box<Expr>),
    Factorial(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Ln,
    Log,
    Exp,
    Abs,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Num(String),
    Var(String),
    Cmd(String),
    Op(char),
    Open(char),
    Close(char),
}

const FUNCTION_WORDS: [(&str, Func); 6] = [
    ("sin", Func::Sin),
    ("cos", Func::Cos),
    ("tan", Func::Tan),
    ("ln", Func::Ln),
    ("log", Func::Log),
    ("exp", Func::Exp),
];

const GREEK: [&str; 22] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "varepsilon",
    "zeta",
    "eta",
    "theta",
    "vartheta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "rho",
    "sigma",
    "tau",
    "phi",
    "varphi",
    "omega",
];

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Num(chars[start..i].iter().collect()));
        } else if c == '\\' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_alphabetic() {
                i += 1;
            }
            if i == start {
                return Err(format!(
                    "unsupported '\\{}'",
                    chars.get(i).copied().unwrap_or(' ')
                ));
            }
            tokens.push(Token::Cmd(chars[start..i].iter().collect()));
        } else if c.is_ascii_alphabetic() {
            let word: String = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let named = ["sqrt", "pi"]
                .iter()
                .chain(FUNCTION_WORDS.iter().map(|(w, _)| w))
                .find(|w| word.starts_with(**w) && (word.len() == w.len() || **w == "sqrt"));
            if let Some(w) = named {
                tokens.push(Token::Cmd(w.to_string()));
                i += w.len();
                continue;
            }
            let mut name = c.to_string();
            i += 1;
            if chars.get(i) == Some(&'_') {
                i += 1;
                match chars.get(i) {
                    Some('{') => {
                        let close = chars[i..]
                            .iter()
                            .position(|&c| c == '}')
                            .ok_or("unclosed subscript")?;
                        name.push('_');
                        name.extend(&chars[i + 1..i + close]);
                        i += close + 1;
                    }
                    Some(&d) if d.is_ascii_alphanumeric() => {
                        name.push('_');
                        name.push(d);
                        i += 1;
                    }
                    _ => return Err("bad subscript".into()),
                }
            }
            tokens.push(Token::Var(name));
        } else if "+-*/^!|".contains(c) {
            tokens.push(Token::Op(c));
            i += 1;
        } else if "([{".contains(c) {
            tokens.push(Token::Open(c));
            i += 1;
        } else if ")]}".contains(c) {
            tokens.push(Token::Close(c));
            i += 1;
        } else {
            return Err(format!("unexpected '{c}'"));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

fn closer(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        _ => '}',
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_mul_op(t: &Token) -> Option<bool> {
        match t {
            Token::Op('*') => Some(true),
            Token::Op('/') => Some(false),
            Token::Cmd(c) if c == "cdot" || c == "times" || c == "ast" => Some(true),
            Token::Cmd(c) if c == "div" => Some(false),
            _ => None,
        }
    }

    /// Could `t` start a factor written right after `prev` (implicit multiplication)? A number
    /// may follow a variable or a closing bracket (`x2`, `(x+1)2`), never another number.
    fn starts_implicit_factor(t: &Token, prev: Option<&Token>) -> bool {
        match t {
            Token::Var(_) | Token::Open(_) => true,
            Token::Num(_) => matches!(prev, Some(Token::Var(_) | Token::Close(_))),
            Token::Cmd(c) => Self::is_mul_op(t).is_none() && c != "pm",
            _ => false,
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut acc = self.term()?;
        loop {
            match self.peek() {
                Some(Token::Op('+')) => {
                    self.pos += 1;
                    acc = Expr::Add(Box::new(acc), Box::new(self.term()?));
                }
                Some(Token::Op('-')) => {
                    self.pos += 1;
                    acc = Expr::Sub(Box::new(acc), Box::new(self.term()?));
                }
                _ => return Ok(acc),
            }
        }
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut acc = self.signed()?;
        loop {
            let Some(t) = self.peek() else { return Ok(acc) };
            if let Some(is_mul) = Self::is_mul_op(t) {
                self.pos += 1;
                let rhs = self.signed()?;
                acc = if is_mul {
                    Expr::Mul(Box::new(acc), Box::new(rhs))
                } else {
                    Expr::Div(Box::new(acc), Box::new(rhs))
                };
            } else if Self::starts_implicit_factor(
                t,
                self.pos.checked_sub(1).and_then(|p| self.tokens.get(p)),
            ) {
                let rhs = self.power()?;
                acc = Expr::Mul(Box::new(acc), Box::new(rhs));
            } else {
                return Ok(acc);
            }
        }
    }

    fn signed(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some(Token::Op('-')) => {
                self.pos += 1;
                Ok(Expr::Neg(Box::new(self.signed()?)))
            }
            Some(Token::Op('+')) => {
                self.pos += 1;
                self.signed()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Expr, String> {
        let base = self.postfix()?;
        if self.peek() == Some(&Token::Op('^')) {
            self.pos += 1;
            let exponent = match self.peek() {
                Some(Token::Op('-')) => {
                    self.pos += 1;
                    Expr::Neg(Box::new(self.power()?))
                }
                _ => self.power()?,
            };
            return Ok(Expr::Pow(Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        while self.peek() == Some(&Token::Op('!')) {
            self.pos += 1;
            e = Expr::Factorial(Box::new(e));
        }
        Ok(e)
    }

    /// A braced group, or a single primary when written without braces.
    fn argument(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::Open('{')) {
            self.primary()
        } else {
            self.postfix()
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Num(text)) => crate::grade::number::parse_decimal(&text)
                .map(Expr::Num)
                .ok_or_else(|| format!("bad number '{text}'")),
            Some(Token::Var(name)) => Ok(Expr::Var(name)),
            Some(Token::Open(open)) => {
                let inner = self.expr()?;
                match self.next() {
                    Some(Token::Close(c)) if c == closer(open) => Ok(inner),
                    _ => Err(format!("missing '{}'", closer(open))),
                }
            }
            Some(Token::Op('|')) => {
                let inner = self.expr()?;
                match self.next() {
                    Some(Token::Op('|')) => Ok(Expr::Func(Func::Abs, Box::new(inner))),
                    _ => Err("missing '|'".into()),
                }
            }
            Some(Token::Cmd(cmd)) => self.command(&cmd),
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("expression ends early".into()),
        }
    }

    fn command(&mut self, cmd: &str) -> Result<Expr, String> {
        match cmd {
            "frac" => {
                let num = self.argument()?;
                let den = self.argument()?;
                Ok(Expr::Div(Box::new(num), Box::new(den)))
            }
            "sqrt" => {
                let index = if self.peek() == Some(&Token::Open('[')) {
                    self.primary()?
                } else {
                    Expr::Num(BigRational::from_integer(2.into()))
                };
                let radicand = self.argument()?;
                Ok(Expr::Root(Box::new(index), Box::new(radicand)))
            }
            "pi" => Ok(Expr::Pi),
            "infty" | "inf" => Ok(Expr::Infinity),
            "abs" => Ok(Expr::Func(Func::Abs, Box::new(self.argument()?))),
            _ => {
                if let Some((_, f)) = FUNCTION_WORDS.iter().find(|(w, _)| *w == cmd) {
                    // `\sin^2 x` squares the function's value.
                    let outer_power = if self.peek() == Some(&Token::Op('^')) {
                        self.pos += 1;
                        Some(self.argument()?)
                    } else {
                        None
                    };
                    // `\sin(x)^2` is (sin x)^2, while `\sin x^2` is sin(x^2).
                    let arg = if self.peek() == Some(&Token::Open('(')) {
                        self.primary()?
                    } else {
                        self.power()?
                    };
                    let call = Expr::Func(*f, Box::new(arg));
                    return Ok(match outer_power {
                        Some(p) => Expr::Pow(Box::new(call), Box::new(p)),
                        None => call,
                    });
                }
                if GREEK.contains(&cmd) {
                    return Ok(Expr::Var(format!("\\{cmd}")));
                }
                Err(format!("unsupported command '\\{cmd}'"))
            }
        }
    }
}

/// Parses a whole expression.
pub fn parse_expr(s: &str) -> Result<Expr, String> {
    let tokens = tokenize(s)?;
    if tokens.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { tokens, pos: 0 };
    let e = p.expr()?;
    match p.peek() {
        None => Ok(e),
        Some(t) => Err(format!("unexpected {t:?}")),
    }
}

/// Exact `r^(1/n)` when `r` is a perfect n-th power of a rational.
fn exact_root(r: &BigRational, n: u32) -> Option<BigRational> {
    if n == 0 || (r.is_negative() && n.is_multiple_of(2)) {
        return None;
    }
    let root = |x: &BigInt| {
        let y = x.abs().nth_root(n);
        (y.pow(n) == x.abs()).then(|| if x.is_negative() { -y } else { y })
    };
    Some(BigRational::new(root(r.numer())?, root(r.denom())?))
}

/// Exact power with a guard on size so `10^{10^9}` cannot eat the machine.
fn exact_pow(base: &BigRational, exponent: &BigRational) -> Option<BigRational> {
    let q = exponent.denom().to_u32()?;
    let p = exponent.numer().to_i32()?;
    let bits = base.numer().bits() + base.denom().bits();
    if u64::from(p.unsigned_abs()) * bits.max(1) > 200_000 {
        return None;
    }
    let rooted = if q == 1 {
        base.clone()
    } else {
        exact_root(base, q)?
    };
    if p < 0 && rooted.is_zero() {
        return None;
    }
    Some(num_traits::pow::Pow::pow(&rooted, p))
}

impl Expr {
    /// The exact rational value, when there is one and no variable, π or root leaves it.
    pub fn exact(&self) -> Option<BigRational> {
        Some(match self {
            Expr::Num(v) => v.clone(),
            Expr::Var(_) | Expr::Pi | Expr::Infinity => return None,
            Expr::Neg(a) => -a.exact()?,
            Expr::Add(a, b) => a.exact()? + b.exact()?,
            Expr::Sub(a, b) => a.exact()? - b.exact()?,
            Expr::Mul(a, b) => a.exact()? * b.exact()?,
            Expr::Div(a, b) => {
                let d = b.exact()?;
                if d.is_zero() {
                    return None;
                }
                a.exact()? / d
            }
            Expr::Pow(a, b) => exact_pow(&a.exact()?, &b.exact()?)?,
            Expr::Root(n, x) => {
                let n = n.exact()?;
                if !n.is_integer() {
                    return None;
                }
                exact_root(&x.exact()?, n.numer().to_u32()?)?
            }
            Expr::Func(Func::Abs, a) => a.exact()?.abs(),
            Expr::Func(..) => return None,
            Expr::Factorial(a) => {
                let n = a.exact()?;
                let n = if n.is_integer() {
                    n.numer().to_u32()?
                } else {
                    return None;
                };
                if n > 500 {
                    return None;
                }
                BigRational::from_integer((1..=n).fold(BigInt::one(), |acc, k| acc * k))
            }
        })
    }

    /// The value in f64 with `vars` bound; unbound variables are NaN.
    pub fn eval(&self, vars: &BTreeMap<String, f64>) -> f64 {
        match self {
            Expr::Num(v) => v.to_f64().unwrap_or(f64::NAN),
            Expr::Var(name) => vars.get(name).copied().unwrap_or(f64::NAN),
            Expr::Pi => std::f64::consts::PI,
            Expr::Infinity => f64::INFINITY,
            Expr::Neg(a) => -a.eval(vars),
            Expr::Add(a, b) => a.eval(vars) + b.eval(vars),
            Expr::Sub(a, b) => a.eval(vars) - b.eval(vars),
            Expr::Mul(a, b) => a.eval(vars) * b.eval(vars),
            Expr::Div(a, b) => a.eval(vars) / b.eval(vars),
            Expr::Pow(a, b) => a.eval(vars).powf(b.eval(vars)),
            Expr::Root(n, x) => {
                let (n, x) = (n.eval(vars), x.eval(vars));
                if x < 0.0 && n.fract() == 0.0 && (n as i64) % 2 == 1 {
                    -(-x).powf(1.0 / n)
                } else {
                    x.powf(1.0 / n)
                }
            }
            Expr::Func(f, a) => {
                let x = a.eval(vars);
                match f {
                    Func::Sin => x.sin(),
                    Func::Cos => x.cos(),
                    Func::Tan => x.tan(),
                    Func::Ln => x.ln(),
                    Func::Log => x.log10(),
                    Func::Exp => x.exp(),
                    Func::Abs => x.abs(),
                }
            }
            Expr::Factorial(a) => {
                let n = a.eval(vars);
                if n < 0.0 || n.fract() != 0.0 || n > 170.0 {
                    f64::NAN
                } else {
                    (1..=n as u64).map(|k| k as f64).product()
                }
            }
        }
    }

    pub fn variables(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Var(name) => {
                out.insert(name.clone());
            }
            Expr::Num(_) | Expr::Pi | Expr::Infinity => {}
            Expr::Neg(a) | Expr::Func(_, a) | Expr::Factorial(a) => a.variables(out),
            Expr::Add(a, b)
            | Expr::Sub(a, b)
            | Expr::Mul(a, b)
            | Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::Root(a, b) => {
                a.variables(out);
                b.variables(out);
            }
        }
    }
}

fn close_enough(x: f64, y: f64) -> bool {
    if x.is_infinite() || y.is_infinite() {
        return x == y;
    }
    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
}

/// Equal as math: exactly when both have rational values, else numerically — at 8 random
/// points in [0.5, 2.5] for the variables (a fixed seed, so grading is deterministic).
pub fn expressions_equal(a: &Expr, b: &Expr) -> bool {
    if let (Some(x), Some(y)) = (a.exact(), b.exact()) {
        return x == y;
    }
    let mut vars = BTreeSet::new();
    a.variables(&mut vars);
    b.variables(&mut vars);
    if vars.is_empty() {
        let (x, y) = (a.eval(&BTreeMap::new()), b.eval(&BTreeMap::new()));
        if !x.is_finite() || !y.is_finite() {
            // Overflowed values (10^{10^{10}}) say nothing; only literal ∞ matches itself.
            return a == b && x.is_infinite();
        }
        return close_enough(x, y);
    }
    let mut rng = SplitMix64::new(0x5EED_6A7E);
    let mut compared = 0;
    for _ in 0..8 {
        let point: BTreeMap<String, f64> = vars
            .iter()
            .map(|v| (v.clone(), 0.5 + 2.0 * rng.unit_f64()))
            .collect();
        let (x, y) = (a.eval(&point), b.eval(&point));
        if x.is_nan() && y.is_nan() {
            continue;
        }
        if !close_enough(x, y) {
            return false;
        }
        compared += 1;
    }
    compared >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &str, b: &str) -> bool {
        expressions_equal(&parse_expr(a).unwrap(), &parse_expr(b).unwrap())
    }

    #[test]
    fn parses_latex() {
        assert!(parse_expr("\\frac{1}{2}x + 3\\sqrt{2}").is_ok());
        assert!(parse_expr("2(x+1)(x-1)").is_ok());
        assert!(parse_expr("x^{2} + 2 \\cdot x \\times 3").is_ok());
        assert!(parse_expr("\\sqrt[3]{x}").is_ok());
        assert!(parse_expr("1 +").is_err());
        assert!(parse_expr("(1 + 2").is_err());
        assert!(parse_expr("\\foo").is_err());
    }

    #[test]
    fn equalities() {
        assert!(eq("\\frac{3}{4}", "0.75"));
        assert!(!eq("\\frac{3}{4}", "\\frac{4}{3}"));
        assert!(eq("2\\sqrt{2}", "\\sqrt{8}"));
        assert!(eq("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"));
        assert!(eq("(x+1)^2", "x^2 + 2x + 1"));
        assert!(!eq("(x+1)^2", "x^2 + 1"));
        assert!(eq("2^{10}", "1024"));
        assert!(eq("-x^2", "-(x^2)"));
        assert!(eq("5!", "120"));
        assert!(eq("\\sqrt{16}", "4"));
        assert!(eq("8^{1/3}", "2"));
        assert!(!eq("\\sqrt{2}", "1.414"));
        assert!(eq("\\pi r^2", "r^2\\pi"));
        assert!(eq("x_1 + x_2", "x_2 + x_1"));
        assert!(!eq("x", "y"));
        assert!(eq("\\sin(x)^2 + \\cos(x)^2", "1"));
    }

    #[test]
    fn huge_powers_do_not_hang() {
        let e = parse_expr("10^{1000000000}").unwrap();
        assert!(e.exact().is_none());
        assert!(!eq("10^{10^{10}}", "10^{10^{11}}"));
        assert!(eq("-\\infty", "-\\infty"));
    }
}
