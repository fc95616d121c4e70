//! Column arithmetic written out one digit operation per line, from the ones place up: each line
//! names its place, the digits and the carry (or borrow) it uses, and the digit it writes, so
//! the final number is read back by place name rather than by reversing a list.

use super::TraceError;
use std::fmt::Write as _;

const PLACES: [&str; 8] =
    ["ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands", "millions", "ten-millions"];

fn place(i: usize) -> String {
    PLACES.get(i).map_or_else(|| format!("place {}", i + 1), |p| p.to_string())
}

/// Digits of `n` (≥ 0), ones first.
fn digits_rev(n: i64) -> Vec<i64> {
    n.to_string().bytes().rev().map(|b| i64::from(b - b'0')).collect()
}

fn unsupported(task: &str, what: String) -> TraceError {
    TraceError::Unsupported { task: task.into(), what }
}

/// Limit that keeps every product and sum inside i64 and the traces short.
const MAX_OPERAND: i64 = 999_999_999;

fn check_operands(task: &str, a: i64, b: i64) -> Result<(), TraceError> {
    for v in [a, b] {
        if !(0..=MAX_OPERAND).contains(&v) {
            return Err(unsupported(task, format!("operand {v}")));
        }
    }
    Ok(())
}

/// Column addition lines for `a + b` (both ≥ 0); returns the sum.
fn add_columns(out: &mut String, a: i64, b: i64) -> i64 {
    let (da, db) = (digits_rev(a), digits_rev(b));
    let mut carry = 0;
    let mut i = 0;
    while i < da.len().max(db.len()) || carry > 0 {
        let (x, y) = (da.get(i).copied().unwrap_or(0), db.get(i).copied().unwrap_or(0));
        let s = x + y + carry;
        let _ = writeln!(out, "{}: {x} + {y} + {carry} = {s}, write {}, carry {}", place(i), s % 10, s / 10);
        carry = s / 10;
        i += 1;
    }
    a + b
}

/// Column subtraction lines for `a - b` with a ≥ b ≥ 0; returns the difference.
fn sub_columns(out: &mut String, a: i64, b: i64) -> i64 {
    let (da, db) = (digits_rev(a), digits_rev(b));
    let mut borrow = 0;
    for (i, &x) in da.iter().enumerate() {
        let y = db.get(i).copied().unwrap_or(0);
        let d = x - y - borrow;
        let name = place(i);
        if d >= 0 {
            let _ = writeln!(out, "{name}: {x} - {y} - {borrow} = {d}, write {d}, borrow 0");
            borrow = 0;
        } else {
            let _ = writeln!(
                out,
                "{name}: {x} - {y} - {borrow} < 0, so 1{x} - {y} - {borrow} = {}, write {}, borrow 1",
                d + 10,
                d + 10
            );
            borrow = 1;
        }
    }
    a - b
}

/// The written digits of a difference, top place first, when leading zeros must be dropped.
fn padded(value: i64, width: usize) -> String {
    format!("{value:0width$}")
}

pub(super) fn addition(a: i64, b: i64) -> Result<(String, String), TraceError> {
    check_operands("add", a, b)?;
    let mut t = format!("Add {a} + {b} column by column, from the right.\n");
    let sum = add_columns(&mut t, a, b);
    let _ = write!(t, "So {a} + {b} = {sum}.");
    Ok((t, format!("{a} + {b} = \\boxed{{{sum}}}")))
}

pub(super) fn subtraction(a: i64, b: i64) -> Result<(String, String), TraceError> {
    check_operands("sub", a, b)?;
    let mut t = String::new();
    let (big, small) = if a >= b { (a, b) } else { (b, a) };
    if a < b {
        let _ = writeln!(t, "{a} is less than {b}, so {a} - {b} = -({b} - {a}).");
    }
    let _ = writeln!(t, "Subtract {big} - {small} column by column, from the right.");
    let diff = sub_columns(&mut t, big, small);
    let width = big.to_string().len();
    if diff.to_string().len() < width {
        let _ = writeln!(
            t,
            "The digits from the top are {}; without the leading zeros that is {diff}.",
            padded(diff, width)
        );
    }
    if a >= b {
        let _ = write!(t, "So {a} - {b} = {diff}.");
    } else {
        let _ = write!(t, "So {b} - {a} = {diff}, and {a} - {b} = -{diff}.");
    }
    Ok((t, format!("{a} - {b} = \\boxed{{{}}}", a - b)))
}

pub(super) fn multiplication(a: i64, b: i64) -> Result<(String, String), TraceError> {
    check_operands("mul", a, b)?;
    let mut t = String::new();
    // The longer number is written on top, so there are fewer rows to add.
    let (top, bottom) = if b.to_string().len() > a.to_string().len() {
        let _ = writeln!(t, "{a} * {b} is the same as {b} * {a}.");
        (b, a)
    } else {
        (a, b)
    };
    if top == 0 || bottom == 0 {
        let _ = write!(t, "One factor is 0, so the product is 0.");
        return Ok((t, format!("{a} * {b} = \\boxed{{0}}")));
    }
    let _ = writeln!(t, "Multiply {top} * {bottom}: one row for each digit of {bottom}, then add the rows.");
    let mut rows = Vec::new();
    for (shift, digit) in digits_rev(bottom).into_iter().enumerate() {
        let _ = writeln!(t, "Row for the {} digit {digit}:", place(shift));
        if digit == 0 {
            let _ = writeln!(t, "{top} * 0 = 0, nothing to add.");
            continue;
        }
        let mut carry = 0;
        for (i, x) in digits_rev(top).into_iter().enumerate() {
            let p = x * digit + carry;
            let _ = writeln!(t, "{}: {x} * {digit} + {carry} = {p}, write {}, carry {}", place(i), p % 10, p / 10);
            carry = p / 10;
        }
        let row = top * digit;
        if carry > 0 {
            let _ = write!(t, "carry {carry} goes in front: {top} * {digit} = {row}");
        } else {
            let _ = write!(t, "{top} * {digit} = {row}");
        }
        let shifted = row * 10i64.pow(shift as u32);
        match shift {
            0 => t.push('\n'),
            1 => {
                let _ = writeln!(t, ", shifted one place: {shifted}");
            }
            s => {
                let _ = writeln!(t, ", shifted {s} places: {shifted}");
            }
        }
        rows.push(shifted);
    }
    let mut total = rows.first().copied().unwrap_or(0);
    for &row in rows.iter().skip(1) {
        let _ = writeln!(t, "Add the rows: {total} + {row}.");
        total = add_columns(&mut t, total, row);
    }
    let _ = write!(t, "So {a} * {b} = {total}.");
    Ok((t, format!("{a} * {b} = \\boxed{{{total}}}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addition_reads_like_column_work() {
        let (t, ans) = addition(347, 589).unwrap();
        assert_eq!(
            t,
            "Add 347 + 589 column by column, from the right.\n\
             ones: 7 + 9 + 0 = 16, write 6, carry 1\n\
             tens: 4 + 8 + 1 = 13, write 3, carry 1\n\
             hundreds: 3 + 5 + 1 = 9, write 9, carry 0\n\
             So 347 + 589 = 936."
        );
        assert_eq!(ans, "347 + 589 = \\boxed{936}");
        let (t, _) = addition(999, 1).unwrap();
        assert!(t.contains("thousands: 0 + 0 + 1 = 1, write 1, carry 0"), "{t}");
    }

    #[test]
    fn subtraction_borrows_and_signs() {
        let (t, ans) = subtraction(1000, 999).unwrap();
        assert!(t.contains("ones: 0 - 9 - 0 < 0, so 10 - 9 - 0 = 1, write 1, borrow 1"), "{t}");
        assert!(t.contains("thousands: 1 - 0 - 1 = 0, write 0, borrow 0"), "{t}");
        assert!(t.contains("are 0001; without the leading zeros that is 1."), "{t}");
        assert_eq!(ans, "1000 - 999 = \\boxed{1}");
        let (t, ans) = subtraction(347, 589).unwrap();
        assert!(t.starts_with("347 is less than 589"), "{t}");
        assert_eq!(ans, "347 - 589 = \\boxed{-242}");
        assert!(subtraction(-1, 3).is_err());
    }

    #[test]
    fn multiplication_rows_then_sum() {
        let (t, ans) = multiplication(347, 58).unwrap();
        assert!(t.contains("ones: 7 * 8 + 0 = 56, write 6, carry 5"), "{t}");
        assert!(t.contains("carry 2 goes in front: 347 * 8 = 2776\n"), "{t}");
        assert!(t.contains("347 * 5 = 1735, shifted one place: 17350"), "{t}");
        assert!(t.contains("Add the rows: 2776 + 17350."), "{t}");
        assert_eq!(ans, "347 * 58 = \\boxed{20126}");
        let (t, ans) = multiplication(12, 305).unwrap();
        assert!(t.starts_with("12 * 305 is the same as 305 * 12."), "{t}");
        assert_eq!(ans, "12 * 305 = \\boxed{3660}");
        let (t, _) = multiplication(305, 40).unwrap();
        assert!(t.contains("305 * 0 = 0, nothing to add."), "{t}");
    }
}
