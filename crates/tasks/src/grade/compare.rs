//! Equality of two answer trees, gold first (the rules are not all symmetric, as in
//! Math-Verify): equations and inequalities up to moving terms and scaling, `x = v` read as `v`,
//! chains `a < x < b` as intervals, lists and sets unordered, tuples and intervals ordered.

use super::expr::{Expr, contains_pm, expand_pm, expressions_equal};
use super::lexer::Rel;
use super::parser::Node;
use crate::rng::SplitMix64;
use num_traits::Signed;
use std::collections::{BTreeMap, BTreeSet};

/// Largest number of element comparisons one set comparison may make.
const MAX_PAIRS: usize = 4096;

pub fn answers_equal(gold: &Node, pred: &Node) -> bool {
    let (g, p) = (simplify(gold.clone(), true), simplify(pred.clone(), true));
    equal(&g, &p)
}

/// `x ∈ S` → S; `a = b = c` → c; `x ≈ v` → v (or `v ≈ w` → v); `±` → both values.
fn simplify(n: Node, top: bool) -> Node {
    match n {
        Node::Rel(parts, rels) => {
            if let Some(at) = rels.iter().rposition(|r| *r == Rel::In) {
                return simplify(parts[at + 1].clone(), top);
            }
            let only_eq = rels.iter().all(|r| matches!(r, Rel::Eq | Rel::Approx));
            if only_eq
                && parts.len() > 2
                && top
                && let Some(at) = rels.iter().rposition(|r| *r == Rel::Eq)
            {
                let rest: Vec<Node> = parts[at + 1..].to_vec();
                let rest_rels: Vec<Rel> = rels[at + 1..].to_vec();
                if rest.len() == 1 {
                    return simplify(rest[0].clone(), top);
                }
                return simplify(Node::Rel(rest, rest_rels), top);
            }
            if parts.len() == 2 && rels[0] == Rel::Approx {
                let keep = if is_simple_lhs(&parts[0]) { &parts[1] } else { &parts[0] };
                return simplify(keep.clone(), top);
            }
            Node::Rel(parts.into_iter().map(|p| simplify(p, false)).collect(), rels)
        }
        Node::Expr(e) if contains_pm(&e) => Node::Set(expand_pm(&e).into_iter().map(Node::Expr).collect()),
        Node::List(items) => Node::List(flatten(items)),
        Node::Set(items) => Node::Set(flatten(items)),
        Node::Union(items) => Node::Union(items.into_iter().map(|i| simplify(i, false)).collect()),
        Node::Tuple { open, close, items } => {
            Node::Tuple { open, close, items: items.into_iter().map(|i| simplify(i, false)).collect() }
        }
        Node::Matrix(rows) => {
            Node::Matrix(rows.into_iter().map(|r| r.into_iter().map(|i| simplify(i, false)).collect()).collect())
        }
        other => other,
    }
}

/// List items, with each `a ± b` item standing for its two values.
fn flatten(items: Vec<Node>) -> Vec<Node> {
    let mut out = Vec::new();
    for item in items {
        match simplify(item, true) {
            Node::Set(values) if values.iter().all(|v| matches!(v, Node::Expr(_))) && values.len() > 1 => {
                out.extend(values)
            }
            other => out.push(other),
        }
    }
    out
}

/// A left side that names the answer rather than constrains it: `x`, `AB`, `f(x)`, `|AB|`,
/// `A:B`, `(p, q)`.
fn is_simple_lhs(n: &Node) -> bool {
    fn simple(e: &Expr) -> bool {
        match e {
            Expr::Var(_) | Expr::E => true,
            Expr::Mul(a, b) | Expr::Div(a, b) => simple(a) && simple(b),
            Expr::Func(super::expr::Func::Abs, a) => simple(a),
            _ => false,
        }
    }
    match n {
        Node::Expr(e) => simple(e),
        Node::Tuple { items, .. } => items.iter().all(is_simple_lhs),
        _ => false,
    }
}

fn equal(g: &Node, p: &Node) -> bool {
    if g == p {
        return true;
    }
    match (g, p) {
        (Node::Rel(gp, gr), Node::Rel(pp, pr)) => relations_equal(gp, gr, pp, pr),
        (Node::Rel(parts, rels), other) if rels.len() == 1 && rels[0] == Rel::Eq && is_simple_lhs(&parts[0]) => {
            equal(&parts[1], other)
        }
        // A predicted equation against a plain gold value: its right side is the answer.
        (other, Node::Rel(parts, rels)) if rels.len() == 1 && rels[0] == Rel::Eq => equal(other, &parts[1]),
        (Node::Rel(parts, rels), Node::Tuple { .. } | Node::Union(_)) => match chain_interval(parts, rels) {
            Some(interval) => equal(&interval, p),
            None => false,
        },
        (Node::List(a) | Node::Set(a), Node::List(b) | Node::Set(b)) => sets_equal(a, b),
        (Node::Union(a), Node::Union(b)) => sets_equal(a, b),
        (Node::Tuple { open: o1, close: c1, items: a }, Node::Tuple { open: o2, close: c2, items: b }) => {
            o1 == o2 && c1 == c2 && sequences_equal(a, b)
        }
        (Node::Tuple { items: a, .. }, Node::List(b) | Node::Set(b))
        | (Node::List(a) | Node::Set(a), Node::Tuple { items: b, .. }) => sequences_equal(a, b),
        (Node::Matrix(a), Node::Matrix(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| sequences_equal(x, y)),
        (Node::List(a) | Node::Set(a), one) if a.len() == 1 => equal(&a[0], one),
        (one, Node::List(b) | Node::Set(b)) if b.len() == 1 => equal(one, &b[0]),
        (Node::Text(a), Node::Text(b)) => words(a) == words(b),
        (Node::Text(a), Node::Expr(e)) | (Node::Expr(e), Node::Text(a)) => {
            e.as_letters().is_some_and(|l| words(&l) == words(a))
        }
        (Node::Expr(a), Node::Expr(b)) => values_equal(a, b),
        _ => false,
    }
}

fn words(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase()
}

/// A percentage is a fraction (25% ≡ 1/4); a whole-number one may also stand for the number
/// itself, on either side (Math-Verify: 75 ≡ 75%, while 0.75 ≢ 0.75%).
fn values_equal(g: &Expr, p: &Expr) -> bool {
    if expressions_equal(g, p) {
        return true;
    }
    let whole_percent = |e: &Expr| match e {
        Expr::Percent(inner) if matches!(**inner, Expr::Num(ref n) if n.is_integer()) => Some((**inner).clone()),
        _ => None,
    };
    whole_percent(g).is_some_and(|x| expressions_equal(&x, p))
        || whole_percent(p).is_some_and(|x| expressions_equal(g, &x))
}

fn sequences_equal(a: &[Node], b: &[Node]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equal(x, y))
}

/// Same elements, in any order, duplicates ignored.
fn sets_equal(a: &[Node], b: &[Node]) -> bool {
    if a.len() * b.len() > MAX_PAIRS {
        return false;
    }
    a.iter().all(|x| b.iter().any(|y| equal(x, y))) && b.iter().all(|y| a.iter().any(|x| equal(x, y)))
}

/// `a < x ≤ b` (or written downwards) as the interval `(a, b]`.
fn chain_interval(parts: &[Node], rels: &[Rel]) -> Option<Node> {
    // `x ≥ 3` is `[3, ∞)`, `3 > x` is `(-∞, 3)`.
    if parts.len() == 2 {
        let infinity = |neg: bool| {
            let inf = Expr::Infinity;
            Node::Expr(if neg { Expr::Neg(Box::new(inf)) } else { inf })
        };
        let named = |n: &Node| is_simple_lhs(n);
        let (bound, rel) = match (named(&parts[0]), named(&parts[1])) {
            (true, false) => (&parts[1], rels[0]),
            (false, true) => (
                &parts[0],
                match rels[0] {
                    Rel::Lt => Rel::Gt,
                    Rel::Le => Rel::Ge,
                    Rel::Gt => Rel::Lt,
                    Rel::Ge => Rel::Le,
                    other => other,
                },
            ),
            _ => return None,
        };
        let (open, close, items) = match rel {
            Rel::Gt => ('(', ')', vec![bound.clone(), infinity(false)]),
            Rel::Ge => ('[', ')', vec![bound.clone(), infinity(false)]),
            Rel::Lt => ('(', ')', vec![infinity(true), bound.clone()]),
            Rel::Le => ('(', ']', vec![infinity(true), bound.clone()]),
            _ => return None,
        };
        return Some(Node::Tuple { open, close, items });
    }
    if parts.len() != 3 {
        return None;
    }
    let bracket = |r: Rel, open: bool| match (r, open) {
        (Rel::Lt | Rel::Gt, true) => Some('('),
        (Rel::Lt | Rel::Gt, false) => Some(')'),
        (Rel::Le | Rel::Ge, true) => Some('['),
        (Rel::Le | Rel::Ge, false) => Some(']'),
        _ => None,
    };
    let up = rels.iter().all(|r| matches!(r, Rel::Lt | Rel::Le));
    let down = rels.iter().all(|r| matches!(r, Rel::Gt | Rel::Ge));
    let (lo, hi, r_lo, r_hi) = if up {
        (&parts[0], &parts[2], rels[0], rels[1])
    } else if down {
        (&parts[2], &parts[0], rels[1], rels[0])
    } else {
        return None;
    };
    let (open, close) = (bracket(r_lo, true)?, bracket(r_hi, false)?);
    // `a ≤ |z| ≤ b` with a ≥ 0: z lies in [−b, −a] ∪ [a, b].
    let abs_middle = matches!(&parts[1], Node::Expr(Expr::Func(super::expr::Func::Abs, _)));
    if abs_middle
        && let (Node::Expr(l), Node::Expr(h)) = (lo, hi)
        && l.exact().is_some_and(|v| !v.is_negative())
    {
        let neg = |e: &Expr| Node::Expr(Expr::Neg(Box::new(e.clone())));
        let mirror = |c: char| {
            if c == '[' {
                ']'
            } else if c == ']' {
                '['
            } else if c == '(' {
                ')'
            } else {
                '('
            }
        };
        return Some(Node::Union(vec![
            Node::Tuple { open: mirror(close), close: mirror(open), items: vec![neg(h), neg(l)] },
            Node::Tuple { open, close, items: vec![lo.clone(), hi.clone()] },
        ]));
    }
    Some(Node::Tuple { open, close, items: vec![lo.clone(), hi.clone()] })
}

fn relations_equal(gp: &[Node], gr: &[Rel], pp: &[Node], pr: &[Rel]) -> bool {
    if gp.len() != 2 || pp.len() != 2 {
        return gp.len() == pp.len() && gr == pr && sequences_equal(gp, pp);
    }
    let (Some(g), Some(p)) = (one_sided(&gp[0], gr[0], &gp[1]), one_sided(&pp[0], pr[0], &pp[1])) else {
        return gr == pr && sequences_equal(gp, pp);
    };
    if g.1 == p.1 {
        let any_sign = matches!(g.1, Rel::Eq | Rel::Ne);
        if proportional(&g.0, &p.0, any_sign) {
            return true;
        }
    }
    // Both name a value: the same name and the same value (`a = 2` is not `b = 2`).
    gr[0] == Rel::Eq
        && pr[0] == Rel::Eq
        && is_simple_lhs(&gp[0])
        && is_simple_lhs(&pp[0])
        && equal(&gp[0], &pp[0])
        && equal(&gp[1], &pp[1])
}

/// `l REL r` as `d REL' 0` with REL' one of =, ≠, <, ≤ (a > b becomes b − a < 0).
fn one_sided(l: &Node, rel: Rel, r: &Node) -> Option<(Expr, Rel)> {
    let (Node::Expr(l), Node::Expr(r)) = (l, r) else {
        return None;
    };
    let sub = |a: &Expr, b: &Expr| Expr::Sub(Box::new(a.clone()), Box::new(b.clone()));
    Some(match rel {
        Rel::Eq | Rel::Ne | Rel::Lt | Rel::Le => (sub(l, r), rel),
        Rel::Gt => (sub(r, l), Rel::Lt),
        Rel::Ge => (sub(r, l), Rel::Le),
        Rel::Approx | Rel::In => return None,
    })
}

/// `a = c·b` for one constant c ≠ 0 (positive unless `any_sign`), checked at random points.
fn proportional(a: &Expr, b: &Expr, any_sign: bool) -> bool {
    let mut vars = BTreeSet::new();
    a.variables(&mut vars);
    b.variables(&mut vars);
    if vars.is_empty() {
        return false;
    }
    let mut rng = SplitMix64::new(0xC0FF_EE11);
    let mut ratio: Option<f64> = None;
    let mut compared = 0;
    for _ in 0..10 {
        let point: BTreeMap<String, f64> = vars.iter().map(|v| (v.clone(), 0.5 + 2.0 * rng.unit_f64())).collect();
        let (x, y) = (a.eval(&point), b.eval(&point));
        if !x.is_finite() || !y.is_finite() {
            continue;
        }
        if y.abs() < 1e-12 {
            if x.abs() < 1e-9 {
                continue;
            }
            return false;
        }
        let r = x / y;
        match ratio {
            None => ratio = Some(r),
            Some(r0) if (r - r0).abs() > 1e-7 * r0.abs().max(1.0) => return false,
            _ => {}
        }
        compared += 1;
    }
    compared >= 3 && ratio.is_some_and(|r| r != 0.0 && (any_sign || r > 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::parser::parse;

    fn eq(g: &str, p: &str) -> bool {
        answers_equal(&parse(g).unwrap(), &parse(p).unwrap())
    }

    #[test]
    fn relations() {
        assert!(eq("2x+4y-3=0", "y=-\\frac12x+\\frac34"));
        assert!(eq("x^2/4 + y^2/3 = 1", "x^2/16 + y^2/12 = 1/4"));
        assert!(eq("x \\le 5", "5 \\ge x"));
        assert!(eq("x < 1", "-x > -1"));
        assert!(!eq("x < 1", "x > -1"));
        assert!(!eq("x < 5", "x \\le 5"));
        assert!(eq("k = 1", "1") && eq("1", "k = 1"));
        assert!(!eq("a + 3z = 0", "0"));
        assert!(eq("z = 1 + 1 = 2", "2"));
        assert!(eq("-2 \\le x \\le 7", "[-2, 7]"));
        assert!(eq("[-2,7]", "x \\in [-2, 7]"));
        assert!(eq("x \\ge 3", "[3, \\infty)") && eq("3 > x", "(-\\infty, 3)"));
        assert!(!eq("a = 2, b = 3", "a = 3, b = 2") && eq("a = 2, b = 3", "b = 3, a = 2"));
        assert!(eq("1 \\le |z| < 2", "(-2, -1] \\cup [1, 2)"));
        assert!(!eq("1 \\le |z| < 2", "[-2, -1] \\cup [1, 2)"));
    }

    #[test]
    fn structures() {
        assert!(eq("\\{1, 2, 3\\}", "3, 2, 1"));
        assert!(!eq("(1, 2, 3)", "(3, 2, 1)"));
        assert!(!eq("(0, 9)", "[0, 9)"));
        assert!(eq("1 \\pm \\sqrt{2}", "1 - \\sqrt 2, 1 + \\sqrt 2"));
        assert!(!eq("\\pm 2021", "2021"));
        assert!(eq("\\text{E}", "E") && !eq("d", "\\text{E}"));
        assert!(eq("\\text{odd}", "odd"));
        assert!(eq("25\\%", "\\frac14") && !eq("\\frac12", "0.5\\%"));
        let m = |s: &str| format!("\\begin{{pmatrix}}{s}\\end{{pmatrix}}");
        assert!(eq(&m("6 & 8 \\\\ 10 & 12"), &format!("{} + {}", m("1 & 2 \\\\ 3 & 4"), m("5 & 6 \\\\ 7 & 8"))));
        assert!(eq(&m("19 & 22 \\\\ 43 & 50"), &format!("{} {}", m("1 & 2 \\\\ 3 & 4"), m("5 & 6 \\\\ 7 & 8"))));
        assert!(!eq(&m("5 & 12 \\\\ 21 & 32"), &format!("{} {}", m("1 & 2 \\\\ 3 & 4"), m("5 & 6 \\\\ 7 & 8"))));
    }
}
