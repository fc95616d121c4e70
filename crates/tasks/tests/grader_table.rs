//! The grader's table of equal / not-equal answer pairs: each row is (gold, extracted, expected).
//! Rows come from the answer forms seen in GSM8K, MATH and AIME solutions and model outputs.

use reasoner_tasks::grade;

const EQUAL: bool = true;
const DIFFERENT: bool = false;

#[rustfmt::skip]
const TABLE: &[(&str, &str, bool)] = &[
    // Integers and thousands separators.
    ("1234", "1,234", EQUAL),
    ("1,234", "1234", EQUAL),
    ("1234", "1234.0", EQUAL),
    ("1234", "1234.00", EQUAL),
    ("-3", "-3", EQUAL),
    ("-3", "−3", EQUAL),
    ("-3", "-3.0", EQUAL),
    ("3", "-3", DIFFERENT),
    ("1000000", "1,000,000", EQUAL),
    ("1,234", "1.234", DIFFERENT),
    ("1.234", "1,234", DIFFERENT),
    ("1234", "12,34", DIFFERENT),
    ("5", "05", EQUAL),
    ("033", "33", EQUAL),
    ("0", "0.0", EQUAL),
    ("0", "-0", EQUAL),
    ("42", "43", DIFFERENT),
    ("42", "\\boxed{42}", EQUAL),
    ("42", "$42$", EQUAL),
    ("42", "\\(42\\)", EQUAL),
    ("42", "42.", EQUAL),
    ("1.5e3", "1500", EQUAL),
    // Fractions and decimals.
    ("3/4", "0.75", EQUAL),
    ("0.75", "3/4", EQUAL),
    ("\\frac{3}{4}", "0.75", EQUAL),
    ("\\frac{3}{4}", "\\dfrac{3}{4}", EQUAL),
    ("\\frac{3}{4}", "\\tfrac{3}{4}", EQUAL),
    ("\\frac{3}{4}", "\\frac34", EQUAL),
    ("\\frac{3}{4}", "6/8", EQUAL),
    ("3/4", "4/3", DIFFERENT),
    ("\\frac{3}{4}", "\\frac{4}{3}", DIFFERENT),
    ("-\\frac{1}{2}", "\\frac{-1}{2}", EQUAL),
    ("-\\frac{1}{2}", "-0.5", EQUAL),
    ("-\\frac{1}{2}", "\\frac{1}{2}", DIFFERENT),
    ("\\frac{1}{3}", "0.333", DIFFERENT),
    // Decimals are compared rounded to six places, as Math-Verify does.
    ("\\frac{1}{3}", "0.3333333", EQUAL),
    ("0.5", ".5", EQUAL),
    ("2\\frac{1}{2}", "\\frac{5}{2}", EQUAL),
    ("2\\frac{1}{2}", "2.5", EQUAL),
    ("\\frac{7}{2}", "3.5", EQUAL),
    ("\\frac{10}{4}", "\\frac{5}{2}", EQUAL),
    ("\\frac{1}{2}", "1/2", EQUAL),
    ("\\frac12", "0.5", EQUAL),
    ("\\dfrac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", EQUAL),
    // Percentages.
    ("75", "75\\%", EQUAL),
    ("75", "75%", EQUAL),
    ("0.75", "75\\%", EQUAL),
    ("75\\%", "75", EQUAL),
    ("75\\%", "0.75", EQUAL),
    ("75\\%", "75 percent", EQUAL),
    ("75", "7.5\\%", DIFFERENT),
    // Only a whole-number percentage may stand for the number itself (as in Math-Verify).
    ("0.75", "0.75\\%", DIFFERENT),
    ("75", "0.75\\%", DIFFERENT),
    ("12.5\\%", "\\frac{1}{8}", EQUAL),
    // Units, text wrappers, currency, degrees.
    ("5", "5 cm", EQUAL),
    ("5", "5\\text{ cm}", EQUAL),
    ("5", "5 \\mbox{cm}", EQUAL),
    ("5", "5\\mathrm{~cm}", EQUAL),
    ("12", "12 \\text{ square feet}", EQUAL),
    ("25", "25 \\text{ cm}^2", EQUAL),
    ("18", "\\$18", EQUAL),
    ("18", "\\$18.00", EQUAL),
    ("18.5", "\\$18.50", EQUAL),
    ("30", "30^\\circ", EQUAL),
    ("30", "30^{\\circ}", EQUAL),
    ("30", "30°", EQUAL),
    ("30", "30 degrees", EQUAL),
    ("30", "31^\\circ", DIFFERENT),
    ("10", "10 \\text{ hours}", EQUAL),
    ("\\text{Monday}", "Monday", EQUAL),
    ("Monday", "monday", EQUAL),
    ("Monday", "Tuesday", DIFFERENT),
    ("\\text{(A)}", "A", EQUAL),
    ("(B)", "B", EQUAL),
    ("(B)", "C", DIFFERENT),
    ("\\textbf{yes}", "yes", EQUAL),
    // Variables and equations.
    ("5", "x = 5", EQUAL),
    ("x = 5", "5", EQUAL),
    ("x=5", "x = 5", EQUAL),
    ("x=5", "5x", DIFFERENT),
    ("5", "5x", DIFFERENT),
    ("5", "x = 6", DIFFERENT),
    ("y = 2x + 3", "2x+3", EQUAL),
    ("y = 2x + 3", "y = 3 + 2x", EQUAL),
    ("y = 2x + 3", "y = 2x - 3", DIFFERENT),
    ("x + y = 3", "y + x = 3", EQUAL),
    ("x + y = 3", "3 = x + y", EQUAL),
    ("x + y = 3", "x + y - 3 = 0", EQUAL),
    ("x + y = 3", "x - y = 3", DIFFERENT),
    ("\\theta = \\frac{\\pi}{4}", "\\frac{\\pi}{4}", EQUAL),
    ("k = -2", "-2", EQUAL),
    ("x \\le 3", "x \\leq 3", EQUAL),
    ("x < 3", "3 > x", EQUAL),
    ("x < 3", "x \\le 3", DIFFERENT),
    // Expressions, compared symbolically.
    ("2\\sqrt{2}", "\\sqrt{8}", EQUAL),
    ("2\\sqrt{2}", "2 \\sqrt 2", EQUAL),
    ("\\sqrt{2}", "1.414", DIFFERENT),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}", EQUAL),
    ("\\sqrt{3}", "3^{1/2}", EQUAL),
    ("\\sqrt{3}", "\\sqrt{2}", DIFFERENT),
    ("3\\sqrt{3}", "\\sqrt{27}", EQUAL),
    ("\\sqrt[3]{8}", "2", EQUAL),
    ("x^2+2x+1", "(x+1)^2", EQUAL),
    ("(x+1)^2", "(x+1)(x+1)", EQUAL),
    ("x^2-1", "(x-1)(x+1)", EQUAL),
    ("x^2+1", "(x+1)^2", DIFFERENT),
    ("2x", "x \\cdot 2", EQUAL),
    ("2x", "2 \\times x", EQUAL),
    ("2x", "x2", EQUAL),
    ("2x", "x^2", DIFFERENT),
    ("\\frac{x}{2}", "0.5x", EQUAL),
    ("\\frac{x+1}{x}", "1 + \\frac{1}{x}", EQUAL),
    ("\\frac{x+1}{x}", "1 + x", DIFFERENT),
    ("6\\pi", "6 \\pi", EQUAL),
    ("6\\pi", "\\pi \\cdot 6", EQUAL),
    ("6\\pi", "18.85", DIFFERENT),
    ("6\\pi", "6", DIFFERENT),
    ("\\pi r^2", "r^2 \\pi", EQUAL),
    ("2^{10}", "1024", EQUAL),
    ("10!", "3628800", EQUAL),
    ("a + b", "b + a", EQUAL),
    ("a - b", "b - a", DIFFERENT),
    ("ab", "ba", EQUAL),
    ("x_1 + x_2", "x_2 + x_1", EQUAL),
    ("\\frac{1}{2}(x + y)", "\\frac{x}{2} + \\frac{y}{2}", EQUAL),
    ("\\left(\\frac{1}{2}\\right)^2", "\\frac{1}{4}", EQUAL),
    ("\\frac{-b}{2a}", "-\\frac{b}{2a}", EQUAL),
    ("4 \\div 2", "2", EQUAL),
    // |x| and x differ at negative x (Math-Verify agrees).
    ("|x|", "x", DIFFERENT),
    ("\\infty", "\\infty", EQUAL),
    ("\\infty", "-\\infty", DIFFERENT),
    // Tuples and points (ordered).
    ("(1, 2)", "(1,2)", EQUAL),
    ("(1,2)", "(2,1)", DIFFERENT),
    ("(1, 2)", "\\left(1, 2\\right)", EQUAL),
    ("(1, 2)", "(1.0, \\frac{4}{2})", EQUAL),
    ("(1, 2)", "(1, 2, 3)", DIFFERENT),
    ("(\\frac{1}{2}, -3)", "(0.5, -3)", EQUAL),
    ("(3, -1, 2)", "(3,-1,2)", EQUAL),
    // Math-Verify: a tuple equals a bare list in the same order.
    ("(1,2)", "1, 2", EQUAL),
    // Intervals.
    ("[1, 3)", "[1,3)", EQUAL),
    ("[1,3)", "[1,3]", DIFFERENT),
    ("[1,3)", "(1,3)", DIFFERENT),
    ("(-\\infty, 2]", "(-∞, 2]", EQUAL),
    ("(-\\infty, 2]", "(-\\infty, 2)", DIFFERENT),
    ("(-\\infty, 1) \\cup (2, \\infty)", "(2, \\infty) \\cup (-\\infty, 1)", EQUAL),
    ("(-\\infty, 1) \\cup (2, \\infty)", "(-\\infty, 1] \\cup (2, \\infty)", DIFFERENT),
    ("[0, \\frac{1}{2}]", "[0, 0.5]", EQUAL),
    // Sets and lists (unordered).
    ("\\{1,2\\}", "\\{2,1\\}", EQUAL),
    ("\\{1,2\\}", "\\{1,2,3\\}", DIFFERENT),
    ("\\{1, 2\\}", "1, 2", EQUAL),
    ("\\{1,2\\}", "\\{1,3\\}", DIFFERENT),
    ("1, 2", "2, 1", EQUAL),
    ("1, 2", "1, 3", DIFFERENT),
    ("3 \\text{ or } 4", "4, 3", EQUAL),
    ("3 \\text{ or } 4", "3 or 4", EQUAL),
    ("3, 4", "x = 3 \\text{ or } x = 4", EQUAL),
    ("3, 4", "x = 3, x = 4", EQUAL),
    ("3, 4", "3", DIFFERENT),
    ("1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}", EQUAL),
    ("1 \\pm \\sqrt{2}", "1 + \\sqrt{2}", DIFFERENT),
    ("-1, \\frac{1}{2}", "0.5, -1", EQUAL),
    // A bare list is a set (Math-Verify's FiniteSet): duplicates do not count.
    ("2, 2, 3", "2, 3", EQUAL),
    // Words after a number, from "The answer is 5 apples." lines.
    ("5", "5 apples", EQUAL),
    ("18.5", "18.50 dollars per day", EQUAL),
    ("6", "5 apples", DIFFERENT),
    ("[1, 3)", "x \\in [1, 3)", EQUAL),
    // Degenerate inputs.
    ("5", "", DIFFERENT),
    ("", "", DIFFERENT),
    ("5", "five", DIFFERENT),
    ("5", "\\boxed{}", DIFFERENT),
    ("\\frac{1}{0}", "1", DIFFERENT),
];

#[test]
fn grader_table() {
    assert!(TABLE.len() >= 120, "table has {} rows", TABLE.len());
    let failures: Vec<String> = TABLE
        .iter()
        .filter(|(gold, answer, expected)| grade(gold, answer) != *expected)
        .map(|(gold, answer, expected)| {
            format!("gold {gold:?} vs {answer:?}: expected {}", if *expected { "equal" } else { "different" })
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} rows fail:\n{}", failures.len(), TABLE.len(), failures.join("\n"));
}

/// Equal answers stay equal with the sides swapped (different ones, different).
#[test]
fn grader_table_is_symmetric() {
    let asymmetric: Vec<_> = TABLE
        .iter()
        .filter(|(gold, answer, _)| grade(gold, answer) != grade(answer, gold))
        .map(|(gold, answer, _)| format!("{gold:?} / {answer:?}"))
        .collect();
    assert!(asymmetric.is_empty(), "asymmetric rows:\n{}", asymmetric.join("\n"));
}

/// Degenerate model outputs must grade quickly and without overflowing the stack.
#[test]
fn degenerate_inputs_stay_cheap() {
    let start = std::time::Instant::now();
    let deep = format!("{}1{}", "(".repeat(3000), ")".repeat(3000));
    assert!(!grade("1", &deep));
    let long_sum = vec!["1"; 1500].join("+");
    assert!(!grade("1500", &long_sum));
    let many = (0..150).map(|_| "1").collect::<Vec<_>>().join(", ");
    let many_other = format!("{}, 2", (0..149).map(|_| "1").collect::<Vec<_>>().join(", "));
    assert!(!grade(&many, &many_other));
    let unclosed = "\\boxed{".repeat(20_000);
    assert_eq!(reasoner_tasks::extract_answer(&unclosed), None);
    let unclosed_tags = "<answer>1".repeat(20_000);
    // No closed tag and no anchored number: nothing to extract (Math-Verify finds none either).
    assert_eq!(reasoner_tasks::extract_answer(&unclosed_tags), None);
    assert!(!reasoner_tasks::countdown_check(&"1+".repeat(5000), &[1], 1));
    assert!(start.elapsed().as_secs_f64() < 5.0, "took {:?}", start.elapsed());
}

/// Random strings from the characters answers are made of never make the grader panic.
#[test]
fn random_inputs_never_panic() {
    use reasoner_tasks::rng::SplitMix64;
    const PIECES: &[&str] = &[
        "1",
        "23",
        "0.5",
        ",",
        ".",
        "-",
        "+",
        "*",
        "/",
        "^",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\\{",
        "\\}",
        "x",
        "y",
        "=",
        " ",
        "\\frac",
        "\\sqrt",
        "\\pi",
        "\\text{",
        "cm",
        "%",
        "\\%",
        "$",
        "\\boxed{",
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "\\cup",
        "\\pm",
        "!",
        "|",
        "−",
        "π",
        "√",
        "°",
        "é",
        "\\infty",
        "\\le",
        "or",
        "_",
        "e",
        "answer is",
        "\n",
    ];
    let mut rng = SplitMix64::new(99);
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..rng.below(14) {
            let piece: &&str = rng.pick(PIECES);
            text.push_str(piece);
        }
        let other: String = (0..rng.below(6)).map(|_| *rng.pick(PIECES)).collect();
        let _ = grade(&text, &other);
        let _ = grade(&other, &text);
        let _ = reasoner_tasks::extract_answer(&text);
        let _ = reasoner_tasks::countdown_check(&text, &[1, 23, 5], 24);
    }
}
