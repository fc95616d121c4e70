//! The path `reasoner eval` takes, through the library only: generate or load problems, build
//! prompts, grade K responses per item, summarize, write per-item JSONL, table and plot.

use reasoner_tasks::dataset::parse_line;
use reasoner_tasks::*;

fn perfect_response(p: &Problem) -> String {
    format!("<think>Let me work it out.</think>\nThe answer is \\boxed{{{}}}.", p.answer)
}

#[test]
fn generated_sets_grade_their_own_answers() {
    for task in TaskKind::ALL {
        for difficulty in 1..=5 {
            let opts = GenOptions { seed: 2024, difficulty, digits: None };
            for p in generate(task, 40, &opts).unwrap() {
                let outcome = grade_response(&p, &perfect_response(&p));
                assert!(outcome.correct, "{task} level {difficulty}: {p:?} -> {outcome:?}");
                let r = reward(&p, &perfect_response(&p), &RewardConfig::default());
                assert_eq!((r.accuracy, r.format), (1.0, 1.0));
                let wrong = grade_response(&p, "</think>\\boxed{-987654}");
                assert!(!wrong.correct, "{p:?}");
            }
        }
    }
}

#[test]
fn generation_is_pinned() {
    // A regression pin on the seeded stream: changing the RNG or the generators changes every
    // data set made from a seed, which must be a deliberate decision.
    let opts = GenOptions { seed: 0, difficulty: 3, digits: None };
    let add = generate_one(TaskKind::Add, 0, &opts).unwrap();
    let again = generate_one(TaskKind::Add, 0, &opts).unwrap();
    assert_eq!(add, again);
    assert_eq!(add.to_jsonl(), PINNED_ADD);
    let countdown = generate_one(TaskKind::Countdown, 0, &opts).unwrap();
    assert_eq!(countdown.to_jsonl(), PINNED_COUNTDOWN);
}

const PINNED_ADD: &str =
    r#"{"prompt":"What is 666 + 799?","answer":"1465","task":"add","difficulty":3,"id":"add-0-0"}"#;
const PINNED_COUNTDOWN: &str = concat!(
    r#"{"prompt":"Using the numbers [43, 40, 5, 11], create an equation that equals 18. "#,
    r#"You can use +, -, *, / and each number at most once.","answer":"(43 - 40) * (11 - 5)","#,
    r#""task":"countdown","numbers":[43,40,5,11],"target":18,"difficulty":3,"id":"countdown-0-0"}"#
);

#[test]
fn eval_flow_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenOptions { seed: 7, difficulty: 2, digits: None };
    let problems = generate(TaskKind::Mixed, 12, &opts).unwrap();

    // Data files round-trip through our JSONL form.
    let data = dir.path().join("problems.jsonl");
    write_jsonl(&data, &problems).unwrap();
    let loaded = load_jsonl(&data, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.problems, problems);

    let prompt_cfg = PromptConfig::default();
    let mut items = Vec::new();
    for (i, p) in loaded.problems.iter().enumerate() {
        let prompt = build_prompt(p, &prompt_cfg);
        assert!(prompt.ends_with(DEFAULT_INSTRUCTION));
        // K = 3: two right, one wrong, for every other item.
        let wrong = "<think>hmm</think> \\boxed{-987654}".to_string();
        let texts = if i % 2 == 0 {
            vec![perfect_response(p), wrong.clone(), perfect_response(p)]
        } else {
            vec![wrong.clone(), wrong, perfect_response(p)]
        };
        let samples: Vec<SampledResponse> = texts.into_iter().map(SampledResponse::from_text).collect();
        items.push(evaluate_item(i, p, &samples));
    }
    let summary = summarize("mixed", &items);
    assert_eq!((summary.n, summary.samples), (12, 3));
    assert!((summary.pass_at_1 - 0.5).abs() < 1e-9, "{summary:?}");
    assert!((summary.cons_at_k - 0.5).abs() < 1e-9, "{summary:?}");
    assert!(summary.mean_tokens > summary.mean_think_tokens && summary.mean_think_tokens > 0.0);

    let results = dir.path().join("results.jsonl");
    write_jsonl(&results, &items).unwrap();
    let text = std::fs::read_to_string(&results).unwrap();
    assert_eq!(text.lines().count(), 12);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first.get("samples").and_then(|s| s.as_array()).is_some_and(|s| s.len() == 3));

    let groups = summarize_groups(&items);
    let table = format_summary_table(&groups, Some(&summary));
    assert!(table.contains("all (mixed)"));
    let png = dir.path().join("acc.png");
    plot_accuracy(&groups, &png, "pass@1").unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
}

#[test]
fn public_data_formats_grade() {
    let gsm = parse_line(r#"{"question":"How many?","answer":"2 + 2 = <<2+2=4>>4\n#### 1,004"}"#).unwrap();
    assert!(grade_response(&gsm, "</think>So the total is 1004 apples.").correct);
    let math = parse_line(r#"{"problem":"Find it.","solution":"Thus $\\boxed{\\dfrac{\\sqrt{3}}{2}}$."}"#).unwrap();
    assert!(grade_response(&math, "</think>$\\boxed{\\frac{\\sqrt3}{2}}$").correct);
    let aime = parse_line(r#"{"id":"2024-II-4","problem":"Find m+n.","answer":33}"#).unwrap();
    assert!(grade_response(&aime, "</think>\\boxed{033}").correct);
}
