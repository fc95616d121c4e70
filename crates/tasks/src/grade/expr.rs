//! Math expressions as trees, and equality on them: exact rational evaluation where the
//! values are rational, else evaluation at random points (f64) with a tolerance; decimals as
//! written are compared rounded to six places, as Math-Verify rounds floats.

use crate::rng::SplitMix64;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(BigRational),
    /// A number written with a decimal point: compared with rounding.
    Float(BigRational),
    Var(String),
    Pi,
    E,
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
    Binom(Box<Expr>, Box<Expr>),
    /// `a ± b`: two values; see [`expand_pm`].
    PlusMinus(Box<Expr>, Box<Expr>),
    /// `x%`: x/100 in arithmetic; at the top of a gold answer also x itself (see compare).
    Percent(Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Sin,
    Cos,
    Tan,
    Sec,
    Csc,
    Cot,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Ln,
    Log,
    Exp,
    Abs,
}

impl Func {
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "sec" => Func::Sec,
            "csc" => Func::Csc,
            "cot" => Func::Cot,
            "arcsin" => Func::Asin,
            "arccos" => Func::Acos,
            "arctan" => Func::Atan,
            "sinh" => Func::Sinh,
            "cosh" => Func::Cosh,
            "tanh" => Func::Tanh,
            "ln" => Func::Ln,
            "log" | "lg" => Func::Log,
            "exp" => Func::Exp,
            _ => return None,
        })
    }

    fn apply(self, x: f64) -> f64 {
        match self {
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Sec => 1.0 / x.cos(),
            Func::Csc => 1.0 / x.sin(),
            Func::Cot => 1.0 / x.tan(),
            Func::Asin => x.asin(),
            Func::Acos => x.acos(),
            Func::Atan => x.atan(),
            Func::Sinh => x.sinh(),
            Func::Cosh => x.cosh(),
            Func::Tanh => x.tanh(),
            Func::Ln => x.ln(),
            Func::Log => x.log10(),
            Func::Exp => x.exp(),
            Func::Abs => x.abs(),
        }
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
    let rooted = if q == 1 { base.clone() } else { exact_root(base, q)? };
    if p < 0 && rooted.is_zero() {
        return None;
    }
    Some(num_traits::pow::Pow::pow(&rooted, p))
}

impl Expr {
    /// The exact rational value, when there is one and no variable, π or irrational root leaves it.
    pub fn exact(&self) -> Option<BigRational> {
        Some(match self {
            Expr::Num(v) | Expr::Float(v) => v.clone(),
            Expr::Var(_) | Expr::Pi | Expr::E | Expr::Infinity | Expr::PlusMinus(..) => {
                return None;
            }
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
            Expr::Percent(a) => a.exact()? / BigRational::from_integer(100.into()),
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
            Expr::Factorial(a) => BigRational::from_integer(factorial(small_natural(&a.exact()?)?)?),
            Expr::Binom(n, k) => {
                let (n, k) = (small_natural(&n.exact()?)?, small_natural(&k.exact()?)?);
                if k > n {
                    return Some(BigRational::zero());
                }
                BigRational::new(factorial(n)?, factorial(k)? * factorial(n - k)?)
            }
        })
    }

    /// True when a decimal written with a point takes part (the comparison then rounds).
    pub fn has_float(&self) -> bool {
        match self {
            Expr::Float(_) => true,
            Expr::Num(_) | Expr::Var(_) | Expr::Pi | Expr::E | Expr::Infinity => false,
            Expr::Neg(a) | Expr::Func(_, a) | Expr::Factorial(a) | Expr::Percent(a) => a.has_float(),
            Expr::Add(a, b)
            | Expr::Sub(a, b)
            | Expr::Mul(a, b)
            | Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::Root(a, b)
            | Expr::Binom(a, b)
            | Expr::PlusMinus(a, b) => a.has_float() || b.has_float(),
        }
    }

    /// The value in f64 with `vars` bound; unbound variables are NaN.
    pub fn eval(&self, vars: &BTreeMap<String, f64>) -> f64 {
        match self {
            Expr::Num(v) | Expr::Float(v) => v.to_f64().unwrap_or(f64::NAN),
            Expr::Var(name) => vars.get(name).copied().unwrap_or(f64::NAN),
            Expr::Pi => std::f64::consts::PI,
            Expr::E => std::f64::consts::E,
            Expr::Infinity => f64::INFINITY,
            Expr::Neg(a) => -a.eval(vars),
            Expr::Add(a, b) => a.eval(vars) + b.eval(vars),
            Expr::Sub(a, b) => a.eval(vars) - b.eval(vars),
            Expr::Mul(a, b) => a.eval(vars) * b.eval(vars),
            Expr::Div(a, b) => a.eval(vars) / b.eval(vars),
            Expr::Percent(a) => a.eval(vars) / 100.0,
            Expr::Pow(a, b) => a.eval(vars).powf(b.eval(vars)),
            Expr::Root(n, x) => {
                let (n, x) = (n.eval(vars), x.eval(vars));
                if x < 0.0 && n.fract() == 0.0 && (n as i64) % 2 == 1 { -(-x).powf(1.0 / n) } else { x.powf(1.0 / n) }
            }
            Expr::Func(f, a) => f.apply(a.eval(vars)),
            Expr::Factorial(a) => {
                let n = a.eval(vars);
                if n < 0.0 || n.fract() != 0.0 || n > 170.0 {
                    f64::NAN
                } else {
                    (1..=n as u64).map(|k| k as f64).product()
                }
            }
            Expr::Binom(..) => self.exact().and_then(|v| v.to_f64()).unwrap_or(f64::NAN),
            Expr::PlusMinus(..) => f64::NAN,
        }
    }

    pub fn variables(&self, out: &mut BTreeSet<String>) {
        match self {
            Expr::Var(name) => {
                out.insert(name.clone());
            }
            Expr::Num(_) | Expr::Float(_) | Expr::Pi | Expr::E | Expr::Infinity => {}
            Expr::Neg(a) | Expr::Func(_, a) | Expr::Factorial(a) | Expr::Percent(a) => a.variables(out),
            Expr::Add(a, b)
            | Expr::Sub(a, b)
            | Expr::Mul(a, b)
            | Expr::Div(a, b)
            | Expr::Pow(a, b)
            | Expr::Root(a, b)
            | Expr::Binom(a, b)
            | Expr::PlusMinus(a, b) => {
                a.variables(out);
                b.variables(out);
            }
        }
    }

    /// The letters of a product of single variables (`odd` read as o·d·d), for word answers.
    pub fn as_letters(&self) -> Option<String> {
        match self {
            Expr::Var(v) if v.chars().count() == 1 => Some(v.clone()),
            Expr::E => Some("e".into()),
            Expr::Mul(a, b) => Some(a.as_letters()? + &b.as_letters()?),
            _ => None,
        }
    }
}

fn small_natural(v: &BigRational) -> Option<u32> {
    if !v.is_integer() || v.is_negative() {
        return None;
    }
    v.numer().to_u32().filter(|&n| n <= 2000)
}

fn factorial(n: u32) -> Option<BigInt> {
    (n <= 2000).then(|| (1..=n).fold(BigInt::one(), |acc, k| acc * k))
}

/// Every reading of the `±` signs (at most four of them are expanded).
pub fn expand_pm(e: &Expr) -> Vec<Expr> {
    fn go(e: &Expr, budget: &mut u32) -> Vec<Expr> {
        let two = |a: &Expr, b: &Expr, budget: &mut u32, f: &dyn Fn(Expr, Expr) -> Expr| -> Vec<Expr> {
            let xs = go(a, budget);
            let ys = go(b, budget);
            xs.iter().flat_map(|x| ys.iter().map(move |y| f(x.clone(), y.clone()))).collect()
        };
        let b = |x: Expr| Box::new(x);
        match e {
            Expr::PlusMinus(x, y) if *budget > 0 => {
                *budget -= 1;
                let mut out = two(x, y, budget, &|p, q| Expr::Add(b(p), b(q)));
                out.extend(two(x, y, budget, &|p, q| Expr::Sub(b(p), b(q))));
                out
            }
            Expr::Neg(a) => go(a, budget).into_iter().map(|x| Expr::Neg(b(x))).collect(),
            Expr::Add(x, y) => two(x, y, budget, &|p, q| Expr::Add(b(p), b(q))),
            Expr::Sub(x, y) => two(x, y, budget, &|p, q| Expr::Sub(b(p), b(q))),
            Expr::Mul(x, y) => two(x, y, budget, &|p, q| Expr::Mul(b(p), b(q))),
            Expr::Div(x, y) => two(x, y, budget, &|p, q| Expr::Div(b(p), b(q))),
            Expr::Pow(x, y) => two(x, y, budget, &|p, q| Expr::Pow(b(p), b(q))),
            Expr::Root(x, y) => two(x, y, budget, &|p, q| Expr::Root(b(p), b(q))),
            other => vec![other.clone()],
        }
    }
    let mut budget = 4;
    go(e, &mut budget)
}

pub fn contains_pm(e: &Expr) -> bool {
    match e {
        Expr::PlusMinus(..) => true,
        Expr::Neg(a) | Expr::Func(_, a) | Expr::Factorial(a) | Expr::Percent(a) => contains_pm(a),
        Expr::Add(a, b)
        | Expr::Sub(a, b)
        | Expr::Mul(a, b)
        | Expr::Div(a, b)
        | Expr::Pow(a, b)
        | Expr::Root(a, b)
        | Expr::Binom(a, b) => contains_pm(a) || contains_pm(b),
        _ => false,
    }
}

fn close_enough(x: f64, y: f64, rounded: bool) -> bool {
    if x.is_infinite() || y.is_infinite() {
        return x == y;
    }
    if rounded && ((x * 1e6).round() == (y * 1e6).round() || (x - y).abs() <= 1e-6) {
        return true;
    }
    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
}

/// Rounds to six decimal places, exactly.
fn round6(v: &BigRational) -> BigInt {
    let scale = BigRational::from_integer(BigInt::from(1_000_000));
    (v * scale).round().to_integer()
}

/// Equal as math: exactly when both have rational values (rounded to six places when one was
/// written as a decimal), else numerically, at 12 random points for the variables, half of
/// them negative (a fixed seed, so grading is deterministic).
pub fn expressions_equal(a: &Expr, b: &Expr) -> bool {
    let rounded = a.has_float() || b.has_float();
    if let (Some(x), Some(y)) = (a.exact(), b.exact()) {
        return x == y || (rounded && round6(&x) == round6(&y));
    }
    let mut vars = BTreeSet::new();
    a.variables(&mut vars);
    b.variables(&mut vars);
    if vars.is_empty() {
        let (x, y) = (a.eval(&BTreeMap::new()), b.eval(&BTreeMap::new()));
        if !x.is_finite() || !y.is_finite() {
            // Overflowed values (10^{10^{10}}) say nothing; only literal ∞ matches itself.
            return x.is_infinite() && x == y && infinity_literal(a) && infinity_literal(b);
        }
        return close_enough(x, y, rounded);
    }
    let mut rng = SplitMix64::new(0x5EED_6A7E);
    let mut compared = 0;
    for i in 0..12 {
        // Half the points negative, so |x| and x differ; a point where either side is
        // undefined (√x, ln x at x < 0) says nothing and is skipped.
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        let point: BTreeMap<String, f64> =
            vars.iter().map(|v| (v.clone(), sign * (0.5 + 2.0 * rng.unit_f64()))).collect();
        let (x, y) = (a.eval(&point), b.eval(&point));
        if x.is_nan() || y.is_nan() {
            continue;
        }
        if !close_enough(x, y, rounded) {
            return false;
        }
        compared += 1;
    }
    compared >= 3
}

fn infinity_literal(e: &Expr) -> bool {
    match e {
        Expr::Infinity => true,
        Expr::Neg(a) => infinity_literal(a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(s: &str) -> Expr {
        match crate::grade::parser::parse(s) {
            Ok(crate::grade::parser::Node::Expr(e)) => e,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn eq(a: &str, b: &str) -> bool {
        expressions_equal(&expr(a), &expr(b))
    }

    #[test]
    fn parses_latex() {
        assert!(crate::grade::parser::parse("\\frac{1}{2}x + 3\\sqrt{2}").is_ok());
        assert!(crate::grade::parser::parse("2(x+1)(x-1)").is_ok());
        assert!(crate::grade::parser::parse("x^{2} + 2 \\cdot x \\times 3").is_ok());
        assert!(crate::grade::parser::parse("\\sqrt[3]{x}").is_ok());
        assert!(crate::grade::parser::parse("1 +").is_err());
        assert!(crate::grade::parser::parse("(1 + 2").is_err());
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
        let e = expr("10^{1000000000}");
        assert!(e.exact().is_none());
        assert!(!eq("10^{10^{10}}", "10^{10^{11}}"));
        assert!(eq("-\\infty", "-\\infty"));
    }
}
