//! LaTeX commands as expressions (`\frac`, `\sqrt[n]`, `\binom`, `\log_b`, functions with
//! their `\sin^2 x` powers, Greek letters, unknown commands as symbols) and number literals as
//! exact rationals (`4.56` marked as written with a point, `1.5e3`).

use super::{Expr, ParseError, Parser, Tok, err};
use crate::grade::expr::Func;
use crate::grade::lexer::FUNCTIONS;
use num_bigint::BigInt;
use num_rational::BigRational;

impl Parser {
    pub(super) fn command(&mut self, cmd: &str) -> Result<Expr, ParseError> {
        Ok(match cmd {
            "frac" => {
                let num = self.argument()?;
                let den = self.argument()?;
                Expr::Div(Box::new(num), Box::new(den))
            }
            "binom" => {
                let n = self.argument()?;
                let k = self.argument()?;
                Expr::Binom(Box::new(n), Box::new(k))
            }
            "sqrt" => {
                let index = if self.eat(&Tok::Sym('[')) {
                    let i = self.sum()?;
                    if !self.eat(&Tok::Sym(']')) {
                        return err("missing ']'");
                    }
                    i
                } else {
                    Expr::Num(BigRational::from_integer(2.into()))
                };
                Expr::Root(Box::new(index), Box::new(self.argument()?))
            }
            "pi" => Expr::Pi,
            "infty" => Expr::Infinity,
            "abs" => Expr::Func(Func::Abs, Box::new(self.argument()?)),
            "log" | "lg" if self.peek() == Some(&Tok::Sym('_')) => {
                self.pos += 1;
                let base = self.argument()?;
                let x = self.function_argument()?;
                Expr::Div(Box::new(Expr::Func(Func::Ln, Box::new(x))), Box::new(Expr::Func(Func::Ln, Box::new(base))))
            }
            c if FUNCTIONS.contains(&c) || c == "lg" => {
                let f = Func::from_name(c).ok_or_else(|| ParseError(format!("unknown function {c}")))?;
                // `\sin^2 x` squares the value; `\sin^{-1}` is not read as an inverse here.
                let outer = if self.eat(&Tok::Sym('^')) { Some(self.argument()?) } else { None };
                let call = Expr::Func(f, Box::new(self.function_argument()?));
                match outer {
                    Some(p) => Expr::Pow(Box::new(call), Box::new(p)),
                    None => call,
                }
            }
            c if is_greek(c) => Expr::Var(format!("\\{c}")),
            // Commands we do not know (`\sum`, `\overrightarrow`) are symbols, as latex2sympy
            // makes them: equal answers still match, different ones still differ.
            c => Expr::Var(format!("\\{c}")),
        })
    }

    /// `\sin(x)^2` is (sin x)^2 while `\sin x^2` is sin(x^2); `\sin 2x` is sin(2x).
    fn function_argument(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Tok::Sym('(')) {
            return self.primary();
        }
        let mut e = self.power()?;
        while let Some(t) = self.peek() {
            if matches!(t, Tok::Ident(_)) {
                e = Expr::Mul(Box::new(e), Box::new(self.power()?));
            } else {
                break;
            }
        }
        Ok(e)
    }
}

fn is_greek(c: &str) -> bool {
    const GREEK: &[&str] = &[
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
        "chi",
        "psi",
        "omega",
        "Gamma",
        "Delta",
        "Theta",
        "Lambda",
        "Sigma",
        "Phi",
        "Psi",
        "Omega",
        "ell",
    ];
    GREEK.contains(&c)
}

/// An exact value for `123` / `4.56` / `1.5e3` (decimals are marked as written with a point).
pub(super) fn number(text: &str) -> Result<Expr, ParseError> {
    let (text, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| ParseError(format!("bad exponent in '{text}'")))?),
        None => (text, 0),
    };
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.len() + frac.len() > 400 {
        return err("number too long");
    }
    let digits = format!("{int}{frac}");
    let n: BigInt = digits.parse().map_err(|_| ParseError(format!("bad number '{text}'")))?;
    let den = num_traits::pow(BigInt::from(10), frac.len());
    let scale = BigRational::from_integer(num_traits::pow(BigInt::from(10), exponent.unsigned_abs() as usize));
    let v = BigRational::new(n, den);
    let v = if exponent >= 0 { v * scale } else { v / scale };
    Ok(if frac.is_empty() && exponent == 0 { Expr::Num(v) } else { Expr::Float(v) })
}
