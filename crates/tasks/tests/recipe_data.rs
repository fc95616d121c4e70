//! The tiny-r1 data checked with the crate's own grader: every worked solution earns full
//! accuracy and format reward, and no training set holds a problem that `reasoner eval` or the
//! recipe's fixed sets evaluate.

use reasoner_tasks::phrasing::problem_from_spec;
use reasoner_tasks::recipe_data::{
    EvalGuard, GuardConfig, Mix, grpo_items, recipe_eval_sets, sft_examples, write_eval_sets, write_grpo_dataset,
    write_pretrain_corpus, write_sft_dataset,
};
use reasoner_tasks::traces::{Spec, solve, solve_spec};
use reasoner_tasks::{
    GenOptions, LoadOptions, Problem, RewardConfig, generate_named, load_jsonl, reward, with_prompt_think,
};
use std::collections::HashSet;

/// Full marks: correct, `</think>` closed before a `\boxed{}` answer.
fn assert_full_reward(problem: &Problem, trace: &str) {
    let cfg = RewardConfig::default();
    // As the model generates it after R1's generation prompt (`…<｜Assistant｜><think>\n`).
    let generated = trace.strip_prefix("<think>\n").expect("trace opens <think>");
    for text in [trace.to_string(), with_prompt_think(generated)] {
        let r = reward(problem, &text, &cfg);
        assert!(
            r.correct && r.format == 1.0 && (r.total - 1.1).abs() < 1e-9,
            "{r:?}\nprompt: {}\n{text}",
            problem.prompt
        );
    }
}

#[test]
fn every_generated_problem_gets_a_correct_well_formed_trace() {
    let mut checked = 0;
    for task in ["add", "sub", "mul", "linear", "countdown"] {
        for difficulty in 1..=5 {
            let n = if task == "countdown" && difficulty == 5 { 60 } else { 300 };
            let opts = GenOptions { seed: 11, difficulty, digits: None };
            for p in generate_named(task, n, &opts).unwrap() {
                let trace = solve(&p).unwrap_or_else(|e| panic!("{}: {e}", p.prompt));
                assert_full_reward(&p, &trace);
                checked += 1;
            }
        }
    }
    for digits in 1..=4 {
        for task in ["add", "sub"] {
            let opts = GenOptions { seed: 12, difficulty: 3, digits: Some(digits) };
            for p in generate_named(task, 200, &opts).unwrap() {
                assert_full_reward(&p, &solve(&p).unwrap());
                checked += 1;
            }
        }
    }
    assert!(checked > 7000, "{checked}");
}

#[test]
fn sft_and_grpo_sets_grade_correct() {
    let guard = EvalGuard::default();
    for (spec, p) in grpo_items(1500, 1, &Mix::grpo(), &guard).unwrap() {
        assert_full_reward(&p, &solve_spec(&spec).unwrap());
    }
    let sft = sft_examples(3000, 1, &Mix::sft(), &guard).unwrap();
    let mut ood = 0;
    for e in &sft {
        match &e.spec {
            // The reply is graded against the problem its prompt words.
            Some(spec) => assert_full_reward(&problem_from_spec(spec, e.prompt().to_string()), e.reply()),
            None => {
                ood += 1;
                assert!(e.reply().starts_with("<think>\n") && e.reply().contains("tiny-r1"));
            }
        }
    }
    assert!((60..=180).contains(&ood), "{ood} out-of-domain examples of 3000");
}

/// Every problem `reasoner eval --task T --n 500 [--difficulty L]` draws with the default
/// seed, by the same generator call as the eval command.
fn eval_command_sets() -> Vec<Problem> {
    let mut all = Vec::new();
    for task in ["add", "sub", "mul", "linear", "countdown"] {
        for difficulty in 1..=5 {
            let opts = GenOptions { seed: 0, difficulty, ..GenOptions::default() };
            all.extend(generate_named(task, 500, &opts).unwrap());
        }
    }
    for set in recipe_eval_sets() {
        all.extend(set.problems(500).unwrap());
    }
    all
}

#[test]
fn training_sets_never_hold_an_evaluation_problem() {
    let dir = tempfile::tempdir().unwrap();
    let guard = EvalGuard::build(&GuardConfig::default()).unwrap();
    let eval = eval_command_sets();
    let eval_prompts: HashSet<&str> = eval.iter().map(|p| p.prompt.as_str()).collect();
    let eval_keys: HashSet<String> = eval.iter().map(|p| Spec::from_problem(p).unwrap().key()).collect();

    let sft_path = dir.path().join("sft.jsonl");
    let counts = write_sft_dataset(&sft_path, 4000, 3, &Mix::sft(), &guard).unwrap();
    assert_eq!(counts.values().sum::<usize>(), 4000);
    let sft_text = std::fs::read_to_string(&sft_path).unwrap();
    let mut canonical_seen = 0;
    for line in sft_text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let prompt = v["messages"][0]["content"].as_str().unwrap();
        assert_eq!(v["messages"][1]["role"], "assistant");
        let question = prompt.split("\n\n").next().unwrap();
        assert!(!eval_prompts.contains(question), "SFT holds eval problem {question}");
        canonical_seen += usize::from(question.starts_with("What is ") || question.starts_with("Solve for x"));
    }
    assert!(canonical_seen > 1000, "{canonical_seen}");
    // Content check across wordings.
    for e in sft_examples(4000, 3, &Mix::sft(), &guard).unwrap() {
        if let Some(spec) = &e.spec {
            assert!(!eval_keys.contains(&spec.key()), "{}", e.prompt());
        }
    }
    for (spec, _) in grpo_items(3000, 3, &Mix::grpo(), &guard).unwrap() {
        assert!(!eval_keys.contains(&spec.key()), "GRPO holds eval problem {spec:?}");
    }

    let grpo_path = dir.path().join("grpo.jsonl");
    write_grpo_dataset(&grpo_path, 3000, 3, &Mix::grpo(), &guard).unwrap();
    let grpo = load_jsonl(&grpo_path, &LoadOptions::default()).unwrap().problems;
    assert_eq!(grpo.len(), 3000);
    for p in &grpo {
        assert!(!eval_prompts.contains(p.prompt.as_str()), "{}", p.prompt);
        // Read back from the file's wording, whichever phrasing it uses.
        let spec = Spec::from_problem(p).unwrap_or_else(|e| panic!("{e}"));
        assert!(!eval_keys.contains(&spec.key()), "GRPO holds eval problem {}", p.prompt);
    }

    let corpus_path = dir.path().join("pretrain.txt");
    write_pretrain_corpus(&corpus_path, 5000, 3, &guard).unwrap();
    let corpus = std::fs::read_to_string(&corpus_path).unwrap();
    assert!(!corpus.contains("<think>"));
    for p in &eval {
        let fact = match Spec::from_problem(p).unwrap() {
            Spec::Add { a, b } if a > 9 || b > 9 => format!("{a} + {b} = "),
            Spec::Sub { a, b } if a > 9 || b > 9 => format!("{a} - {b} = "),
            Spec::Mul { a, b } if a > 9 || b > 9 => format!("{a} * {b} = "),
            _ => continue,
        };
        // A fact starts a line or follows a sentence or list separator ("8 * 13 + 25" is not
        // the fact "13 + 25").
        for before in ["\n", ". ", ": ", ", "] {
            assert!(!corpus.contains(&format!("{before}{fact}")), "{fact}");
        }
    }
}

#[test]
fn eval_sets_are_written_in_both_wordings() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_eval_sets(dir.path(), 40).unwrap();
    assert_eq!(paths.len(), 2 * recipe_eval_sets().len());
    let add4 = load_jsonl(&dir.path().join("add-4d.jsonl"), &LoadOptions::default()).unwrap().problems;
    let held = load_jsonl(&dir.path().join("add-4d-heldout.jsonl"), &LoadOptions::default()).unwrap().problems;
    assert_eq!((add4.len(), held.len()), (40, 40));
    for (a, h) in add4.iter().zip(&held) {
        assert_eq!(a.answer, h.answer);
        assert_ne!(a.prompt, h.prompt);
        assert!(a.prompt.split_whitespace().nth(2).unwrap().len() == 4, "{}", a.prompt);
        assert!(h.prompt.starts_with("How much is") || h.prompt.starts_with("Find the sum"), "{}", h.prompt);
    }
    for path in &paths {
        for p in load_jsonl(path, &LoadOptions::default()).unwrap().problems {
            assert_full_reward(&p, &solve(&p).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        }
    }
    let cd4 = load_jsonl(&dir.path().join("countdown-4-heldout.jsonl"), &LoadOptions::default()).unwrap().problems;
    assert!(cd4.iter().all(|p| p.numbers.as_ref().is_some_and(|n| n.len() == 4)));
}
