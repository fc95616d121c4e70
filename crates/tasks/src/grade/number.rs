//! Exact numbers in the forms answers come in: `1,234`, `1234.0`, `-3`, `.5`, `3/4`,
//! `\frac{3}{4}`, mixed numbers `2\frac{1}{2}`, `1.5e3`, each with an optional trailing `%`.
//! Values are exact rationals over BigInt, so `0.75` and `3/4` compare equal without rounding.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{Signed, Zero};

/// A parsed number; `percent` records a trailing `%` (the value is the number before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub value: BigRational,
    pub percent: bool,
}

/// Parses `s` (already normalized: no `$`, `\dfrac`→`\frac`, `\%`→`%`) as one number.
pub fn parse_number(s: &str) -> Option<Number> {
    let s = s.trim();
    let (body, percent) = match s.strip_suffix('%') {
        Some(rest) => (rest.trim_end(), true),
        None => (s, false),
    };
    parse_value(body).map(|value| Number { value, percent })
}

fn parse_value(s: &str) -> Option<BigRational> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, s[1..].trim_start()),
        b'+' => (false, s[1..].trim_start()),
        _ => (false, s),
    };
    let value = parse_unsigned(rest)?;
    Some(if negative { -value } else { value })
}

fn parse_unsigned(s: &str) -> Option<BigRational> {
    if let Some(v) = parse_decimal(s) {
        return Some(v);
    }
    // \frac{a}{b}, with signed decimal parts.
    if let Some(rest) = s.strip_prefix("\\frac") {
        return parse_frac_args(rest);
    }
    // Mixed number: 2\frac{1}{2} (a proper fraction after a whole number).
    if let Some(pos) = s.find("\\frac") {
        let whole = parse_decimal(&s[..pos])?;
        let frac = parse_frac_args(&s[pos + "\\frac".len()..])?;
        let integral =
            whole.is_integer() && !frac.is_negative() && frac < BigRational::from_integer(1.into());
        return integral.then(|| whole + frac);
    }
    // a/b
    let (num, den) = s.split_once('/')?;
    let num = parse_value(num)?;
    let den = parse_value(den)?;
    (!den.is_zero()).then(|| num / den)
}

fn parse_frac_args(s: &str) -> Option<BigRational> {
    let (num, rest) = brace_group(s)?;
    let (den, rest) = brace_group(rest)?;
    if !rest.trim().is_empty() {
        return None;
    }
    let num = parse_value(num)?;
    let den = parse_value(den)?;
    (!den.is_zero()).then(|| num / den)
}

fn brace_group(s: &str) -> Option<(&str, &str)> {
    let body = s.trim_start().strip_prefix('{')?;
    let close = crate::extract::matching_brace(body)?;
    Some((&body[..close], &body[close + 1..]))
}

/// `1234`, `1,234,567`, `12.50`, `.5`, `5.`, `1.5e-3`; thousands groups must be exact.
pub fn parse_decimal(s: &str) -> Option<BigRational> {
    let s = s.trim();
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(p) => (&s[..p], Some(s[p + 1..].parse::<i32>().ok()?)),
        None => (s, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int_digits = if int_part.contains(',') {
        let groups: Vec<&str> = int_part.split(',').collect();
        let first_ok = (1..=3).contains(&groups[0].len());
        let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
        if !first_ok || !rest_ok {
            return None;
        }
        groups.concat()
    } else {
        int_part.to_string()
    };
    if !int_digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int_digits}{frac_part}");
    let numer: BigInt = if digits.is_empty() {
        BigInt::zero()
    } else {
        digits.parse().ok()?
    };
    let mut value = BigRational::new(numer, BigInt::from(10).pow(frac_part.len() as u32));
    if let Some(e) = exponent {
        if e.unsigned_abs() > 400 {
            return None;
        }
        let scale = BigRational::from_integer(BigInt::from(10).pow(e.unsigned_abs()));
        value = if e >= 0 { value * scale } else { value / scale };
    }
    Some(value)
}

/// Equal as numbers. When exactly one side is a percent `p%`, the other may be `p` or `p/100`.
pub fn numbers_equal(a: &Number, b: &Number) -> bool {
    if a.percent == b.percent {
        return a.value == b.value;
    }
    let (pct, plain) = if a.percent { (a, b) } else { (b, a) };
    plain.value == pct.value || plain.value == &pct.value / BigRational::from_integer(100.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(s: &str) -> Option<String> {
        parse_number(s).map(|n| n.value.to_string())
    }

    #[test]
    fn forms() {
        assert_eq!(val("1,234"), Some("1234".into()));
        assert_eq!(val("1234.0"), Some("1234".into()));
        assert_eq!(val("-3"), Some("-3".into()));
        assert_eq!(val(".5"), Some("1/2".into()));
        assert_eq!(val("0.75"), Some("3/4".into()));
        assert_eq!(val("3/4"), Some("3/4".into()));
        assert_eq!(val("-\\frac{3}{4}"), Some("-3/4".into()));
        assert_eq!(val("\\frac{-3}{4}"), Some("-3/4".into()));
        assert_eq!(val("2\\frac{1}{2}"), Some("5/2".into()));
        assert_eq!(val("1.5e3"), Some("1500".into()));
        assert_eq!(val("1.234"), Some("617/500".into()));
        assert_eq!(val("1,23"), None);
        assert_eq!(val("12,3456"), None);
        assert_eq!(val("3/0"), None);
        assert_eq!(val("x"), None);
        assert_eq!(val(""), None);
        assert!(parse_number("75%").unwrap().percent);
    }

    #[test]
    fn percent_rules() {
        let n = |s: &str| parse_number(s).unwrap();
        assert!(numbers_equal(&n("75%"), &n("75")));
        assert!(numbers_equal(&n("75"), &n("75%")));
        assert!(numbers_equal(&n("0.75"), &n("75%")));
        assert!(!numbers_equal(&n("7.5"), &n("75%")));
        assert!(numbers_equal(&n("75%"), &n("75.0%")));
    }
}
