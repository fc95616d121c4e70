//! Plain synthetic text about numbers for pretraining the "vanilla" base model: counting,
//! place values, facts such as `347 + 589 = 936.`, comparisons and times tables. No chat
//! markers and no `<think>`: the base model learns numbers and words, not R1's answer format.

use crate::recipe_data::EvalGuard;
use crate::rng::SplitMix64;
use crate::traces::Spec;

const PLACE_NAMES: [&str; 5] = ["ones", "tens", "hundreds", "thousands", "ten-thousands"];

fn number(rng: &mut SplitMix64, max_digits: u32) -> i64 {
    let digits = rng.range_i64(1, i64::from(max_digits)) as u32;
    let lo = if digits == 1 { 0 } else { 10i64.pow(digits - 1) };
    rng.range_i64(lo, 10i64.pow(digits) - 1)
}

fn counting(rng: &mut SplitMix64) -> String {
    let start = number(rng, 3);
    let step = *rng.pick(&[1, 1, 1, 2, 5, 10]);
    let len = rng.range_i64(5, 9);
    let down = rng.chance(0.25) && start >= step * len;
    let seq: Vec<String> =
        (0..len).map(|k| if down { start - k * step } else { start + k * step }.to_string()).collect();
    match (step, down) {
        (1, false) => format!("Counting up from {start}: {}.", seq.join(", ")),
        (1, true) => format!("Counting down from {start}: {}.", seq.join(", ")),
        (s, false) => format!("Counting by {s} from {start}: {}.", seq.join(", ")),
        (s, true) => format!("Counting down by {s} from {start}: {}.", seq.join(", ")),
    }
}

fn place_values(rng: &mut SplitMix64) -> String {
    let n = rng.range_i64(10, 99_999);
    let text = n.to_string();
    let parts: Vec<String> =
        text.bytes().rev().enumerate().map(|(i, d)| format!("{} {}", d - b'0', PLACE_NAMES[i])).rev().collect();
    match rng.below(3) {
        0 => format!("The number {n} has {} digits: {}.", text.len(), parts.join(", ")),
        1 => format!("The last digit of {n} is {}.", n % 10),
        _ => format!("In {n}, the ones digit is {} and the tens digit is {}.", n % 10, (n / 10) % 10),
    }
}

/// A `a op b = c.` fact, or None when it is an evaluation problem. Single-digit facts are
/// never held back: every column step of every trace is one.
fn fact(rng: &mut SplitMix64, guard: &EvalGuard) -> Option<String> {
    let small = rng.chance(0.35);
    let (a, b) = if small { (rng.range_i64(0, 9), rng.range_i64(0, 9)) } else { (number(rng, 4), number(rng, 4)) };
    let (spec, text) = match rng.below(4) {
        0 => (Spec::Add { a, b }, format!("{a} + {b} = {}.", a + b)),
        1 => (Spec::Sub { a, b }, format!("{a} - {b} = {}.", a - b)),
        2 => {
            let b = b % 10;
            (Spec::Mul { a, b }, format!("{a} * {b} = {}.", a * b))
        }
        _ => {
            let (x, y) = (rng.range_i64(-120, 120), rng.range_i64(-30, 30));
            let (spec, shown) = if y < 0 {
                (Spec::Sub { a: x, b: -y }, format!("{x} - {}", -y))
            } else {
                (Spec::Add { a: x, b: y }, format!("{x} + {y}"))
            };
            return (!guard.contains(&spec)).then(|| format!("{shown} = {}.", x + y));
        }
    };
    (small || !guard.contains(&spec)).then_some(text)
}

fn times_table(rng: &mut SplitMix64, guard: &EvalGuard) -> String {
    let k = rng.range_i64(1, 12);
    let rows: Vec<String> = (1..=10)
        // Single-digit products are kept whatever the guard says: every trace uses them.
        .filter(|&i| (k <= 9 && i <= 9) || !guard.contains(&Spec::Mul { a: k, b: i }))
        .map(|i| format!("{k} * {i} = {}", k * i))
        .collect();
    format!("Times table of {k}: {}.", rows.join(", "))
}

/// Exact divisions, the step that solves `a x = c` in the equation traces.
fn division(rng: &mut SplitMix64) -> String {
    let a = rng.range_i64(2, 12) * if rng.chance(0.25) { -1 } else { 1 };
    let q = rng.range_i64(-20, 20);
    let shown = if a < 0 { format!("({a})") } else { a.to_string() };
    format!("{} / {shown} = {q}.", a * q)
}

fn comparison(rng: &mut SplitMix64) -> String {
    let (a, b) = (number(rng, 4), number(rng, 4));
    match (rng.below(3), a.cmp(&b)) {
        (_, std::cmp::Ordering::Equal) => format!("{a} is equal to {b}."),
        (0, std::cmp::Ordering::Less) => format!("{a} is less than {b}."),
        (0, _) => format!("{a} is greater than {b}."),
        (1, _) => format!("The larger of {a} and {b} is {}.", a.max(b)),
        _ => format!("The smaller of {a} and {b} is {}.", a.min(b)),
    }
}

fn parity(rng: &mut SplitMix64) -> String {
    let n = number(rng, 3);
    match rng.below(3) {
        0 => format!("{n} is {}.", if n % 2 == 0 { "even" } else { "odd" }),
        1 => format!("Double {n} is {}.", 2 * n),
        _ => {
            let even = n - n % 2;
            format!("Half of {even} is {}.", even / 2)
        }
    }
}

fn equation_fact(rng: &mut SplitMix64, guard: &EvalGuard) -> Option<String> {
    let a = rng.range_i64(2, 12) * if rng.chance(0.3) { -1 } else { 1 };
    let x = rng.range_i64(-20, 20);
    let b = rng.range_i64(-30, 30);
    let c = a * x + b;
    if guard.contains(&Spec::Linear { a, b, c }) {
        return None;
    }
    let xs = if x < 0 { format!("({x})") } else { x.to_string() };
    let sign = if b < 0 { format!("- {}", -b) } else { format!("+ {b}") };
    Some(match rng.below(2) {
        0 => format!("{a} * {xs} {sign} = {c}."),
        _ => format!("When x = {x}, {a}x {sign} = {c}."),
    })
}

const PROSE: &[&str] = &[
    "There are ten digits: 0, 1, 2, 3, 4, 5, 6, 7, 8 and 9.",
    "To add two numbers, add the ones first, then the tens, then the hundreds, and carry when a column reaches ten.",
    "To subtract, start with the ones; when the top digit is smaller, borrow one from the next place.",
    "Multiplying by 10 puts a 0 at the end of a number.",
    "Any number times 0 is 0, and any number times 1 is itself.",
    "Addition and multiplication do not depend on the order of the numbers.",
    "An equation stays true when the same number is added to or subtracted from both sides.",
    "A negative number is less than zero.",
    "In a countdown puzzle, numbers are combined with +, -, * and / to reach a target.",
];

/// One document: a few sentences of mixed kinds.
pub fn pretrain_document(rng: &mut SplitMix64, guard: &EvalGuard) -> String {
    let count = rng.range_i64(4, 10);
    let mut sentences = Vec::new();
    while (sentences.len() as i64) < count {
        let s = match rng.below(11) {
            0 => Some(counting(rng)),
            1 => Some(place_values(rng)),
            2..=4 => fact(rng, guard),
            9 => Some(division(rng)),
            5 => Some(times_table(rng, guard)),
            6 => Some(comparison(rng)),
            7 => Some(parity(rng)),
            8 => equation_fact(rng, guard),
            _ => Some(rng.pick(PROSE).to_string()),
        };
        sentences.extend(s);
    }
    sentences.join(if rng.chance(0.5) { "\n" } else { " " })
}

/// `n` documents for `seed`; document i depends only on (seed, i).
pub fn pretrain_documents(n: usize, seed: u64, guard: &EvalGuard) -> Vec<String> {
    (0..n as u64).map(|i| pretrain_document(&mut SplitMix64::for_item(seed, 0x9E7, i), guard)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_plain_and_true() {
        let docs = pretrain_documents(300, 5, &EvalGuard::default());
        for d in &docs {
            assert!(!d.contains("<think>") && !d.contains('｜'), "{d}");
            for line in d.split(['\n']).flat_map(|l| l.split(". ")) {
                // Every `a + b = c` fact holds.
                if let Some((lhs, rhs)) = line.split_once(" = ")
                    && let Some((a, b)) = lhs.split_once(" + ")
                    && let (Ok(a), Ok(b), Ok(c)) =
                        (a.parse::<i64>(), b.parse::<i64>(), rhs.trim_end_matches('.').parse::<i64>())
                {
                    assert_eq!(a + b, c, "{line}");
                }
            }
        }
        assert_eq!(docs, pretrain_documents(300, 5, &EvalGuard::default()));
    }
}
