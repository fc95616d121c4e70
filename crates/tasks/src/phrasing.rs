//! Prompt phrasings per task: the generators' own wording first, then natural alternatives.
//! Some alternatives are held out of training so evaluation can check that a model answers
//! wordings it never saw; [`problem_from_spec`] turns a spec and a wording into a `Problem`.

use crate::countdown::countdown_prompt;
use crate::problem::Problem;
use crate::rng::SplitMix64;
use crate::traces::{Spec, search_countdown};

/// Which phrasings a data set may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhrasingSplit {
    /// The generator's wording and the training alternatives.
    Train,
    /// Alternatives never used in training.
    HeldOut,
    /// Only the generator's own wording.
    Canonical,
}

/// One wording; `{a}`, `{b}` (operands), `{eq}` (the equation), `{list}` (countdown numbers,
/// comma-separated) and `{target}` are filled in. `None` for countdown's canonical wording,
/// which comes from [`countdown_prompt`].
struct Wording {
    template: Option<&'static str>,
    held_out: bool,
}

const fn train(t: &'static str) -> Wording {
    Wording { template: Some(t), held_out: false }
}

const fn held(t: &'static str) -> Wording {
    Wording { template: Some(t), held_out: true }
}

const ADD: &[Wording] = &[
    train("What is {a} + {b}?"),
    train("Calculate {a} + {b}."),
    train("What is the sum of {a} and {b}?"),
    train("Add {a} and {b}."),
    train("Compute {a} plus {b}."),
    train("{a} + {b} = ?"),
    held("How much is {a} plus {b}?"),
    held("Find the sum of {a} and {b}."),
];

const SUB: &[Wording] = &[
    train("What is {a} - {b}?"),
    train("Calculate {a} - {b}."),
    train("What is {a} minus {b}?"),
    train("Subtract {b} from {a}."),
    train("Compute the difference {a} - {b}."),
    train("{a} - {b} = ?"),
    held("How much is {a} minus {b}?"),
    held("Find {a} - {b}."),
];

const MUL: &[Wording] = &[
    train("What is {a} * {b}?"),
    train("Calculate {a} * {b}."),
    train("What is {a} times {b}?"),
    train("Multiply {a} by {b}."),
    train("What is the product of {a} and {b}?"),
    train("{a} * {b} = ?"),
    held("How much is {a} times {b}?"),
    held("Find the product of {a} and {b}."),
];

const LINEAR: &[Wording] = &[
    train("Solve for x: {eq}."),
    train("Solve the equation {eq}."),
    train("Find x if {eq}."),
    train("What value of x satisfies {eq}?"),
    train("{eq}. What is x?"),
    held("Find x such that {eq}."),
    held("If {eq}, what is x?"),
];

const COUNTDOWN_CANONICAL: &str = "Using the numbers [{list}], create an equation that equals {target}. You can use +, -, *, / and each number at most once.";

const COUNTDOWN: &[Wording] = &[
    Wording { template: None, held_out: false },
    train("Make {target} from the numbers {list} using +, -, * and /. Each number may be used at most once."),
    train("Use the numbers {list} and +, -, *, / to reach {target}, each number at most once."),
    train("Countdown: numbers {list}, target {target}. Use +, -, *, / and each number at most once."),
    held("Find an expression equal to {target} using {list}, each at most once, with +, -, * and /."),
    held("With the numbers {list}, each used at most once, and +, -, *, /, make {target}."),
];

fn wordings(spec: &Spec) -> &'static [Wording] {
    match spec {
        Spec::Add { .. } => ADD,
        Spec::Sub { .. } => SUB,
        Spec::Mul { .. } => MUL,
        Spec::Linear { .. } => LINEAR,
        Spec::Countdown { .. } => COUNTDOWN,
    }
}

fn equation(a: i64, b: i64, c: i64) -> String {
    match b {
        0 => format!("{a}x = {c}"),
        b if b < 0 => format!("{a}x - {} = {c}", -b),
        b => format!("{a}x + {b} = {c}"),
    }
}

fn fill(template: &str, spec: &Spec) -> String {
    let mut s = template.to_string();
    match spec {
        Spec::Add { a, b } | Spec::Sub { a, b } | Spec::Mul { a, b } => {
            s = s.replace("{a}", &a.to_string()).replace("{b}", &b.to_string());
        }
        Spec::Linear { a, b, c } => s = s.replace("{eq}", &equation(*a, *b, *c)),
        Spec::Countdown { numbers, target } => {
            let list = numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            s = s.replace("{list}", &list).replace("{target}", &target.to_string());
        }
    }
    s
}

fn render(w: &Wording, spec: &Spec) -> String {
    match (w.template, spec) {
        (Some(t), _) => fill(t, spec),
        (None, Spec::Countdown { numbers, target }) => countdown_prompt(numbers, *target),
        (None, _) => String::new(),
    }
}

fn wordings_of_task(task: &str) -> &'static [Wording] {
    match task {
        "add" => ADD,
        "sub" => SUB,
        "mul" => MUL,
        "linear" => LINEAR,
        "countdown" => COUNTDOWN,
        _ => &[],
    }
}

/// The values of a template's `{holes}` in `text`, each hole ending where the next literal
/// part starts; None when the text does not have the template's shape.
fn match_template(template: &str, text: &str) -> Option<Vec<(String, String)>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}')?;
        parts.push((false, &rest[..open]));
        parts.push((true, &rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    parts.push((false, rest));
    let mut values = Vec::new();
    let mut pos = 0;
    for (k, (hole, part)) in parts.iter().enumerate() {
        if !hole {
            if !text[pos..].starts_with(part) {
                return None;
            }
            pos += part.len();
            continue;
        }
        let end = match parts.get(k + 1) {
            Some((false, next)) if !next.is_empty() => pos + text[pos..].find(next)?,
            _ => text.len(),
        };
        values.push((part.to_string(), text[pos..end].to_string()));
        pos = end;
    }
    (pos == text.len()).then_some(values)
}

/// The spec of a `task` problem worded as `prompt` in any of this module's wordings.
pub fn spec_from_wording(task: &str, prompt: &str) -> Option<Spec> {
    let prompt = prompt.trim();
    for w in wordings_of_task(task) {
        // Countdown's canonical wording is countdown_prompt's; this is its shape.
        let Some(template) = w.template.or((task == "countdown").then_some(COUNTDOWN_CANONICAL)) else {
            continue;
        };
        let Some(values) = match_template(template, prompt) else { continue };
        let get = |name: &str| values.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
        let int = |name: &str| get(name)?.parse::<i64>().ok();
        let spec = match task {
            "add" => Spec::Add { a: int("a")?, b: int("b")? },
            "sub" => Spec::Sub { a: int("a")?, b: int("b")? },
            "mul" => Spec::Mul { a: int("a")?, b: int("b")? },
            "linear" => {
                let mut p = Problem::new(format!("Solve for x: {}.", get("eq")?), "");
                p.task = Some("linear".into());
                Spec::from_problem(&p).ok()?
            }
            _ => Spec::Countdown {
                numbers: get("list")?.split(", ").map(|n| n.parse().ok()).collect::<Option<_>>()?,
                target: int("target")?,
            },
        };
        // Only an exact rendering counts, so a loose match cannot misread a prompt.
        if fill(template, &spec) == prompt {
            return Some(spec);
        }
    }
    None
}

/// Every wording of `spec` in `split`, in a fixed order (the canonical one first where included).
pub fn all_phrasings(spec: &Spec, split: PhrasingSplit) -> Vec<String> {
    wordings(spec)
        .iter()
        .enumerate()
        .filter(|(i, w)| match split {
            PhrasingSplit::Train => !w.held_out,
            PhrasingSplit::HeldOut => w.held_out,
            PhrasingSplit::Canonical => *i == 0,
        })
        .map(|(_, w)| render(w, spec))
        .collect()
}

/// One wording of `spec` from `split`; with `Train`, the canonical wording comes up with
/// probability `canonical_share`, so the generators' own prompts stay the most common.
pub fn phrase(spec: &Spec, split: PhrasingSplit, canonical_share: f64, rng: &mut SplitMix64) -> String {
    let all = all_phrasings(spec, split);
    if split == PhrasingSplit::Train && rng.chance(canonical_share) {
        return all[0].clone();
    }
    rng.pick(&all).clone()
}

/// The canonical prompt (exactly the generators' wording).
pub fn canonical_prompt(spec: &Spec) -> String {
    render(&wordings(spec)[0], spec)
}

/// A problem for `spec` worded as `prompt`, with the gold answer (a valid expression for
/// countdown, whose grading checks any expression against `numbers` and `target`).
pub fn problem_from_spec(spec: &Spec, prompt: String) -> Problem {
    let answer = match spec {
        Spec::Add { a, b } => (i128::from(*a) + i128::from(*b)).to_string(),
        Spec::Sub { a, b } => (i128::from(*a) - i128::from(*b)).to_string(),
        Spec::Mul { a, b } => (i128::from(*a) * i128::from(*b)).to_string(),
        Spec::Linear { a, b, c } => if *a == 0 { 0 } else { (c - b) / a }.to_string(),
        Spec::Countdown { numbers, target } => {
            search_countdown(numbers, *target).map(|s| s.expression).unwrap_or_default()
        }
    };
    let mut p = Problem::new(prompt, answer);
    p.task = Some(spec.task().to_string());
    if let Spec::Countdown { numbers, target } = spec {
        p.numbers = Some(numbers.clone());
        p.target = Some(*target);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators::{GenOptions, generate_one};
    use crate::problem::TaskKind;

    #[test]
    fn canonical_matches_generators() {
        let opts = GenOptions { seed: 3, difficulty: 3, digits: None };
        for task in [TaskKind::Add, TaskKind::Sub, TaskKind::Mul, TaskKind::Linear, TaskKind::Countdown] {
            for i in 0..50 {
                let p = generate_one(task, i, &opts).unwrap();
                let spec = Spec::from_problem(&p).unwrap();
                assert_eq!(canonical_prompt(&spec), p.prompt);
                let back = problem_from_spec(&spec, p.prompt.clone());
                assert_eq!(Spec::from_problem(&back).unwrap(), spec);
            }
        }
    }

    #[test]
    fn every_wording_reads_back() {
        let specs = [
            Spec::Add { a: 347, b: 589 },
            Spec::Sub { a: 12, b: 4005 },
            Spec::Mul { a: 305, b: 40 },
            Spec::Linear { a: -3, b: -2, c: 7 },
            Spec::Linear { a: 5, b: 0, c: 20 },
            Spec::Countdown { numbers: vec![19, 36, 55, 7], target: 65 },
        ];
        for spec in &specs {
            for split in [PhrasingSplit::Train, PhrasingSplit::HeldOut] {
                for text in all_phrasings(spec, split) {
                    let mut p = problem_from_spec(spec, format!("{text}\n\n{}", crate::DEFAULT_INSTRUCTION));
                    if let Spec::Countdown { .. } = spec {
                        // Read from the wording, not from the record's numbers.
                        assert_eq!(spec_from_wording("countdown", &text).as_ref(), Some(spec), "{text}");
                        p.numbers = None;
                        p.target = None;
                        continue;
                    }
                    assert_eq!(Spec::from_problem(&p).as_ref(), Ok(spec), "{text}");
                }
            }
        }
        assert_eq!(spec_from_wording("add", "What is 3 + 4 + 5?"), None);
        assert_eq!(spec_from_wording("add", "Add 3 and four."), None);
        assert_eq!(spec_from_wording("div", "What is 3 / 4?"), None);
    }

    #[test]
    fn splits_do_not_share_wordings() {
        let spec = Spec::Add { a: 12, b: 34 };
        let train = all_phrasings(&spec, PhrasingSplit::Train);
        let held = all_phrasings(&spec, PhrasingSplit::HeldOut);
        assert_eq!(train[0], "What is 12 + 34?");
        assert!(held.len() >= 2 && train.len() >= 4);
        assert!(held.iter().all(|h| !train.contains(h)));
        for spec in [Spec::Linear { a: -3, b: -2, c: 7 }, Spec::Countdown { numbers: vec![3, 5, 8], target: 7 }] {
            for text in all_phrasings(&spec, PhrasingSplit::Train)
                .into_iter()
                .chain(all_phrasings(&spec, PhrasingSplit::HeldOut))
            {
                assert!(!text.contains('{'), "{text}");
            }
        }
        assert_eq!(
            all_phrasings(&Spec::Linear { a: -3, b: -2, c: 7 }, PhrasingSplit::HeldOut)[1],
            "If -3x - 2 = 7, what is x?"
        );
    }
}
