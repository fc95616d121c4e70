//! Countdown (as in TinyZero): reach a target from 3–5 numbers with + − × ÷, each number at
//! most once. Problems are built from a random expression so they are always solvable; answers
//! are checked by parsing the expression and evaluating it exactly over the rationals.

use crate::problem::Problem;
use crate::rng::SplitMix64;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::Zero;

/// (how many numbers, largest number, largest target) per difficulty level.
fn level_shape(level: u8) -> (usize, i64, i64) {
    match level {
        1 => (3, 20, 100),
        2 => (3, 50, 100),
        3 => (4, 50, 100),
        4 => (4, 100, 100),
        _ => (5, 100, 999),
    }
}

/// The prompt wording, shared with data files made by other tools.
pub fn countdown_prompt(numbers: &[i64], target: i64) -> String {
    let list = numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
    format!(
        "Using the numbers [{list}], create an equation that equals {target}. \
         You can use +, -, *, / and each number at most once."
    )
}

struct Node {
    value: i64,
    text: String,
    atom: bool,
}

fn wrap(node: &Node) -> String {
    if node.atom { node.text.clone() } else { format!("({})", node.text) }
}

/// Combine all numbers, in random pairs with random valid operations, into one positive integer.
fn random_expression(rng: &mut SplitMix64, numbers: &[i64]) -> Node {
    let mut items: Vec<Node> = numbers.iter().map(|&n| Node { value: n, text: n.to_string(), atom: true }).collect();
    while items.len() > 1 {
        let i = rng.below(items.len() as u64) as usize;
        let a = items.swap_remove(i);
        let j = rng.below(items.len() as u64) as usize;
        let b = items.swap_remove(j);
        let mut ops = vec!['+'];
        if a.value > b.value {
            ops.push('-');
        }
        if a.value * b.value <= 10_000 {
            ops.push('*');
        }
        if b.value > 1 && a.value % b.value == 0 {
            ops.push('/');
        }
        let op = *rng.pick(&ops);
        let value = match op {
            '+' => a.value + b.value,
            '-' => a.value - b.value,
            '*' => a.value * b.value,
            _ => a.value / b.value,
        };
        items.push(Node { value, text: format!("{} {op} {}", wrap(&a), wrap(&b)), atom: false });
    }
    items.pop().unwrap_or(Node { value: 0, text: "0".into(), atom: true })
}

/// One solvable countdown problem at `level` (1..=5).
pub fn generate_countdown(rng: &mut SplitMix64, level: u8) -> Problem {
    let (count, max_number, max_target) = level_shape(level);
    let mut last = None;
    for _ in 0..1000 {
        let numbers: Vec<i64> = (0..count).map(|_| rng.range_i64(1, max_number)).collect();
        let expr = random_expression(rng, &numbers);
        let fits = (1..=max_target).contains(&expr.value) && !numbers.contains(&expr.value);
        if fits {
            return countdown_problem(numbers, expr.value, expr.text);
        }
        last = Some((numbers, expr));
    }
    // Practically unreachable; the sum of all numbers is always a valid target.
    let (numbers, _) = last.unwrap_or((vec![1, 2, 3], Node { value: 6, text: String::new(), atom: false }));
    let text = numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" + ");
    let target = numbers.iter().sum();
    countdown_problem(numbers, target, text)
}

fn countdown_problem(numbers: Vec<i64>, target: i64, expression: String) -> Problem {
    let mut p = Problem::new(countdown_prompt(&numbers, target), expression);
    p.numbers = Some(numbers);
    p.target = Some(target);
    p
}

/// Why a countdown answer is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountdownError {
    #[error("empty answer")]
    Empty,
    #[error("cannot parse expression: {0}")]
    Parse(String),
    #[error("number {0} is not available (not given, or used more than once)")]
    NumberNotAvailable(String),
    #[error("division by zero")]
    DivisionByZero,
    #[error("expression equals {got}, not {target}")]
    WrongResult { got: String, target: i64 },
}

/// True when `expr` (optionally `expr = target` or `target = expr`) uses only the given
/// numbers, each at most once, and evaluates exactly to `target`.
pub fn countdown_check(expr: &str, numbers: &[i64], target: i64) -> bool {
    countdown_verify(expr, numbers, target).is_ok()
}

/// Like [`countdown_check`], saying why an answer fails.
pub fn countdown_verify(expr: &str, numbers: &[i64], target: i64) -> Result<(), CountdownError> {
    let value = countdown_value(expr, numbers, Some(target))?;
    if value == BigRational::from_integer(BigInt::from(target)) {
        Ok(())
    } else {
        Err(CountdownError::WrongResult { got: value.to_string(), target })
    }
}

/// The exact value of a countdown answer, after checking which numbers it uses. With a target,
/// an `= target` side is dropped; without one, `expr = N` keeps `expr`.
pub fn countdown_value(expr: &str, numbers: &[i64], target: Option<i64>) -> Result<BigRational, CountdownError> {
    if expr.len() > 1000 {
        return Err(CountdownError::Parse("expression longer than 1000 characters".into()));
    }
    let text = clean(expr);
    let sides: Vec<&str> = text.split('=').map(str::trim).collect();
    let body = match sides.as_slice() {
        [one] => *one,
        [left, right] => {
            let is_target = |s: &str| match (s.parse::<i64>(), target) {
                (Ok(v), Some(t)) => v == t,
                (Ok(_), None) => true,
                _ => false,
            };
            if is_target(right) {
                left
            } else if is_target(left) {
                right
            } else {
                return Err(CountdownError::Parse("'=' must separate the expression and the target".into()));
            }
        }
        _ => return Err(CountdownError::Parse("more than one '='".into())),
    };
    if body.is_empty() {
        return Err(CountdownError::Empty);
    }
    let mut parser = Parser { chars: body.chars().collect(), pos: 0, available: numbers.to_vec() };
    let value = parser.expr()?;
    parser.skip_space();
    if parser.pos < parser.chars.len() {
        return Err(CountdownError::Parse(format!("unexpected '{}'", parser.chars[parser.pos])));
    }
    Ok(value)
}

/// LaTeX and Unicode operators to ASCII; `\frac{a}{b}` to `(a)/(b)`.
fn clean(expr: &str) -> String {
    let mut s = expr.trim().trim_matches('$').trim().to_string();
    for (from, to) in [
        ("\\left", ""),
        ("\\right", ""),
        ("\\times", "*"),
        ("\\cdot", "*"),
        ("\\div", "/"),
        ("\\dfrac", "\\frac"),
        ("\\tfrac", "\\frac"),
        ("×", "*"),
        ("·", "*"),
        ("÷", "/"),
        ("−", "-"),
        ("–", "-"),
        ("\\(", ""),
        ("\\)", ""),
    ] {
        s = s.replace(from, to);
    }
    while let Some(start) = s.find("\\frac{") {
        let Some((num, after_num)) = braced(&s, start + 5) else {
            break;
        };
        let Some((den, after_den)) = braced(&s, after_num) else {
            break;
        };
        s = format!("{}(({})/({})){}", &s[..start], num, den, &s[after_den..]);
    }
    s.replace(['{', '['], "(").replace(['}', ']'], ")")
}

/// The text inside the brace group opening at byte `open`, and the byte after its close.
fn braced(s: &str, open: usize) -> Option<(String, usize)> {
    if s.as_bytes().get(open) != Some(&b'{') {
        return None;
    }
    let mut depth = 0usize;
    for (i, c) in s[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((s[open + 1..open + i].to_string(), open + i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    available: Vec<i64>,
}

impl Parser {
    fn skip_space(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.pos).copied()
    }

    fn expr(&mut self) -> Result<BigRational, CountdownError> {
        let mut acc = self.term()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            acc = if op == '+' { acc + rhs } else { acc - rhs };
        }
        Ok(acc)
    }

    fn term(&mut self) -> Result<BigRational, CountdownError> {
        let mut acc = self.unary()?;
        while let Some(op @ ('*' | '/' | 'x')) = self.peek() {
            self.pos += 1;
            let rhs = self.unary()?;
            if op == '/' {
                if rhs.is_zero() {
                    return Err(CountdownError::DivisionByZero);
                }
                acc /= rhs;
            } else {
                acc *= rhs;
            }
        }
        Ok(acc)
    }

    fn unary(&mut self) -> Result<BigRational, CountdownError> {
        match self.peek() {
            Some('-') => {
                self.pos += 1;
                Ok(-self.unary()?)
            }
            Some('+') => {
                self.pos += 1;
                self.unary()
            }
            _ => self.atom(),
        }
    }

    fn atom(&mut self) -> Result<BigRational, CountdownError> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let v = self.expr()?;
                if self.peek() != Some(')') {
                    return Err(CountdownError::Parse("missing ')'".into()));
                }
                self.pos += 1;
                Ok(v)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.pos < self.chars.len() && self.chars[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                if self.chars.get(self.pos) == Some(&'.') {
                    return Err(CountdownError::Parse("only whole numbers may be used".into()));
                }
                let digits: String = self.chars[start..self.pos].iter().collect();
                let used = digits.parse::<i64>().ok();
                let slot = used.and_then(|v| self.available.iter().position(|&a| a == v));
                match slot {
                    Some(i) => {
                        self.available.swap_remove(i);
                        Ok(BigRational::from_integer(BigInt::from(used.unwrap_or_default())))
                    }
                    None => Err(CountdownError::NumberNotAvailable(digits)),
                }
            }
            Some(c) => Err(CountdownError::Parse(format!("unexpected '{c}'"))),
            None => Err(CountdownError::Parse("expression ends early".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_answers() {
        let nums = [19, 36, 55, 7];
        assert!(countdown_check("55 + 36 - 19 - 7", &nums, 65));
        assert!(countdown_check("55 + 36 - 19 - 7 = 65", &nums, 65));
        assert!(countdown_check("65 = 55 + 36 - 19 - 7", &nums, 65));
        assert!(countdown_check("$(55 + 36 - 19) - 7$", &nums, 65));
        assert!(countdown_check("36 + 19 + 7 \\times 55 / 55", &[36, 19, 7, 55, 55], 62));
        assert!(countdown_check("\\frac{36}{4} + 1", &[36, 4, 1], 10));
        assert!(countdown_check("(3 × 4) ÷ 2", &[2, 3, 4], 6));
        // Using fewer numbers is fine.
        assert!(countdown_check("55 + 7 + 3", &[55, 7, 3, 19], 65));
    }

    #[test]
    fn rejects_bad_answers() {
        let nums = [19, 36, 55, 7];
        assert_eq!(countdown_verify("55 + 55 - 45", &nums, 65), Err(CountdownError::NumberNotAvailable("55".into())));
        assert!(matches!(countdown_verify("55 + 36", &nums, 65), Err(CountdownError::WrongResult { .. })));
        assert!(matches!(countdown_verify("55 + 10", &nums, 65), Err(CountdownError::NumberNotAvailable(_))));
        assert_eq!(countdown_verify("7 / (19 - 19)", &[7, 19, 19], 1), Err(CountdownError::DivisionByZero));
        assert!(countdown_verify("55 + 36 - 19 - 7 = 64", &nums, 65).is_err());
        assert!(countdown_verify("", &nums, 65).is_err());
        assert!(countdown_verify("5.5 * 2", &[5, 2], 11).is_err());
        assert!(countdown_verify("(55 + 7", &[55, 7], 62).is_err());
        // Exact arithmetic: 7/3*3 is exactly 7, but 1/3 + 1/3 + 1/3 needs three 3s.
        assert!(countdown_check("7 / 3 * 3", &[7, 3, 3], 7));
        assert!(!countdown_check("1/3 + 1/3 + 1/3", &[1, 1, 1, 3], 1));
    }

    #[test]
    fn generated_problems_are_solvable() {
        for level in 1..=5u8 {
            for i in 0..200 {
                let mut rng = SplitMix64::for_item(77, 5, i);
                let p = generate_countdown(&mut rng, level);
                let (nums, target) = p.countdown_spec().unwrap();
                assert!(countdown_check(&p.answer, nums, target), "{} -> {}", p.answer, target);
                assert!((3..=5).contains(&nums.len()));
                assert!(target >= 1);
                assert!(p.prompt.contains(&format!("equals {target}.")));
            }
        }
    }
}
