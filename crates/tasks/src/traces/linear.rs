//! Equation steps for `a x + b = c`: move the constant across, divide by the coefficient,
//! check by substituting back. Negative numbers are written in parentheses where they follow
//! an operator, so every line reads as plain arithmetic.

use super::TraceError;

/// `n` as it reads after an operator: `(-3)` for negatives.
fn paren(n: i64) -> String {
    if n < 0 { format!("({n})") } else { n.to_string() }
}

fn equation(a: i64, b: i64, c: i64) -> String {
    match b {
        0 => format!("{a}x = {c}"),
        b if b < 0 => format!("{a}x - {} = {c}", -b),
        b => format!("{a}x + {b} = {c}"),
    }
}

pub(super) fn solve_linear(a: i64, b: i64, c: i64) -> Result<(String, String), TraceError> {
    let bad = |what: String| TraceError::Unsupported { task: "linear".into(), what };
    let limit = 1_000_000_000;
    if a == 0 || [a, b, c].iter().any(|v| v.abs() > limit) {
        return Err(bad(format!("equation {}", equation(a, b, c))));
    }
    let rhs = c - b;
    if rhs % a != 0 {
        return Err(bad(format!("non-integer solution of {}", equation(a, b, c))));
    }
    let x = rhs / a;
    let mut t = format!("Solve {}.\n", equation(a, b, c));
    if b > 0 {
        t.push_str(&format!("Subtract {b} from both sides: {a}x = {c} - {b} = {rhs}.\n"));
    } else if b < 0 {
        t.push_str(&format!("Add {} to both sides: {a}x = {c} + {} = {rhs}.\n", -b, -b));
    }
    t.push_str(&format!("Divide both sides by {a}: x = {rhs} / {} = {x}.\n", paren(a)));
    let ax = a * x;
    let check = match b {
        0 => format!("Check: {a} * {} = {c}. Correct.", paren(x)),
        _ => format!(
            "Check: {a} * {} = {ax}, and {ax} {} {} = {c}. Correct.",
            paren(x),
            if b < 0 { '-' } else { '+' },
            b.abs()
        ),
    };
    t.push_str(&check);
    Ok((t, format!("x = \\boxed{{{x}}}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_for_each_sign() {
        let (t, ans) = solve_linear(3, 2, 11).unwrap();
        assert_eq!(
            t,
            "Solve 3x + 2 = 11.\n\
             Subtract 2 from both sides: 3x = 11 - 2 = 9.\n\
             Divide both sides by 3: x = 9 / 3 = 3.\n\
             Check: 3 * 3 = 9, and 9 + 2 = 11. Correct."
        );
        assert_eq!(ans, "x = \\boxed{3}");
        let (t, ans) = solve_linear(-4, -5, 7).unwrap();
        assert!(t.contains("Add 5 to both sides: -4x = 7 + 5 = 12."), "{t}");
        assert!(t.contains("x = 12 / (-4) = -3."), "{t}");
        assert!(t.contains("Check: -4 * (-3) = 12, and 12 - 5 = 7."), "{t}");
        assert_eq!(ans, "x = \\boxed{-3}");
        let (t, _) = solve_linear(5, 0, 20).unwrap();
        assert!(!t.contains("both sides: 5x"), "{t}");
        assert!(solve_linear(0, 1, 2).is_err());
        assert!(solve_linear(2, 0, 3).is_err());
    }
}
