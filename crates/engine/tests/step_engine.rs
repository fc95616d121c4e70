//! The step engine against a plain reference: greedy decoding by recomputing the whole sequence
//! without a cache each token. Requests that join a running batch, prompts fed in small pieces,
//! prompts served from the prefix cache and cancelled neighbours must not change anyone's tokens.

mod common;

use common::fixture;
use reasoner_engine::prompt::chat_prompt;
use reasoner_engine::{
    Completion, Engine, EngineConfig, EngineError, Event, GenerationRequest, Request, SamplingParams, StepEngine,
};
use reasoner_model::chat_template::ChatMessage;
use reasoner_model::{LoadedModel, LogitsFor, SeqInput, load_model};
use std::collections::HashMap;

fn model() -> LoadedModel {
    load_model(&fixture("qwen2_bf16_sharded")).unwrap()
}

/// Greedy continuation by full recomputation (no cache, no engine), stopping at EOS.
fn reference_greedy(m: &LoadedModel, prompt: &[u32], n: usize) -> Vec<u32> {
    let eos = m.eos_ids();
    let mut ids = prompt.to_vec();
    let mut out = Vec::new();
    for _ in 0..n {
        let logits = m.model.forward(&mut [SeqInput { tokens: &ids, cache: None }], LogitsFor::Last).unwrap();
        let row = logits[0].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let next = reasoner_engine::sampler::argmax(&row);
        if eos.contains(&next) {
            break;
        }
        ids.push(next);
        out.push(next);
    }
    out
}

fn prompt(m: &LoadedModel, text: &str) -> (Vec<u32>, bool) {
    let p = chat_prompt(m, &[ChatMessage::new("user", text)], &Default::default()).unwrap();
    (p.ids, p.think_open)
}

fn request(ids: &[u32], think_open: bool, params: SamplingParams) -> Request {
    Request::from(GenerationRequest { prompt_ids: ids.to_vec(), params, stop: vec![], think_open })
}

/// Step until done; completions by request id.
fn run(e: &mut StepEngine<'_>) -> HashMap<u64, (Completion, usize)> {
    let mut done = HashMap::new();
    while e.has_work() {
        for ev in e.step().unwrap() {
            if let Event::Finished { id, output } = ev {
                done.insert(id, (output.completion, output.cached_tokens));
            }
        }
    }
    done
}

#[test]
fn joining_between_steps_and_small_prefill_pieces_keep_greedy_tokens() {
    let m = model();
    let prompts: Vec<(Vec<u32>, bool)> = ["What is 2+3?", "Say hello to the world in three languages, please.", "x"]
        .iter()
        .map(|t| prompt(&m, t))
        .collect();
    let want: Vec<Vec<u32>> = prompts.iter().map(|(p, _)| reference_greedy(&m, p, 20)).collect();
    assert!(want.iter().all(|w| w.len() >= 10), "the references run long enough to compare: {want:?}");
    let cfg = EngineConfig { max_batch: 4, prefill_chunk: 5, prefill_tokens_per_step: 7, ..EngineConfig::default() };
    let mut e = StepEngine::new(&m, cfg).unwrap();
    let a = e.add_request(request(&prompts[0].0, prompts[0].1, SamplingParams::greedy(20))).unwrap();
    let mut done = HashMap::new();
    // The others join while the first is already decoding.
    for _ in 0..6 {
        for ev in e.step().unwrap() {
            if let Event::Finished { id, output } = ev {
                done.insert(id, output.completion);
            }
        }
    }
    let b = e.add_request(request(&prompts[1].0, prompts[1].1, SamplingParams::greedy(20))).unwrap();
    e.step().unwrap();
    let c = e.add_request(request(&prompts[2].0, prompts[2].1, SamplingParams::greedy(20))).unwrap();
    done.extend(run(&mut e).into_iter().map(|(k, v)| (k, v.0)));
    for (id, w) in [a, b, c].iter().zip(&want) {
        assert_eq!(&done[id].token_ids, w, "request {id}");
    }
}

#[test]
fn batch_generate_matches_reference_and_seeds_reproduce() {
    let m = model();
    let (p, open) = prompt(&m, "What is 2+3?");
    let want = reference_greedy(&m, &p, 16);
    let greedy =
        GenerationRequest { prompt_ids: p.clone(), params: SamplingParams::greedy(16), stop: vec![], think_open: open };
    let sampled = |seed| GenerationRequest {
        params: SamplingParams { temperature: 1.0, top_p: 1.0, seed, max_tokens: 16, ..SamplingParams::default() },
        ..greedy.clone()
    };
    let engine = Engine::new(&m);
    let (out, stats) = engine.generate(&[greedy.clone(), sampled(1), sampled(1), sampled(2)], |_, _| {}).unwrap();
    assert_eq!(out[0].token_ids, want);
    assert_eq!(out[1].token_ids, out[2].token_ids, "same seed, same tokens");
    assert_ne!(out[1].token_ids, out[3].token_ids, "another seed draws otherwise");
    assert_eq!(stats.prefill_tokens, 4 * p.len());
    // Per-request seeds: a request alone draws what it drew in the batch.
    let (alone, _) = engine.generate(&[sampled(2)], |_, _| {}).unwrap();
    assert_eq!(alone[0].token_ids, out[3].token_ids);
}

#[test]
fn prefix_cache_serves_a_repeated_prompt_with_the_same_tokens() {
    let m = model();
    let sys = "You are a careful assistant. Think step by step and answer briefly.";
    let msgs = |q: &str| vec![ChatMessage::new("system", sys), ChatMessage::new("user", q)];
    let p1 = chat_prompt(&m, &msgs("What is 2+3?"), &Default::default()).unwrap();
    let p2 = chat_prompt(&m, &msgs("What is 7*6?"), &Default::default()).unwrap();
    let want = reference_greedy(&m, &p2.ids, 12);
    let cfg = EngineConfig { prefix_cache_bytes: 64 << 20, ..EngineConfig::default() };
    let mut e = StepEngine::new(&m, cfg).unwrap();
    let first = e.add_request(request(&p1.ids, p1.think_open, SamplingParams::greedy(4))).unwrap();
    let done = run(&mut e);
    assert_eq!(done[&first].1, 0);
    let second = e.add_request(request(&p2.ids, p2.think_open, SamplingParams::greedy(12))).unwrap();
    let done = run(&mut e);
    let shared = p1.ids.iter().zip(&p2.ids).take_while(|(a, b)| a == b).count();
    assert!(shared > 10, "the prompts share the system part ({shared} tokens)");
    assert_eq!(done[&second].1, shared, "cached tokens = the shared prefix");
    assert_eq!(done[&second].0.token_ids, want);
    let st = e.status().prefix;
    assert_eq!((st.lookups, st.hits, st.hit_tokens), (2, 1, shared as u64));
    // The same prompt again: all but its last token come from the cache.
    let third = e.add_request(request(&p2.ids, p2.think_open, SamplingParams::greedy(12))).unwrap();
    let done = run(&mut e);
    assert_eq!(done[&third].1, p2.ids.len() - 1);
    assert_eq!(done[&third].0.token_ids, want);
}

#[test]
fn cancel_stops_one_request_and_not_its_neighbours() {
    let m = model();
    let (p, open) = prompt(&m, "Count to ten.");
    let want = reference_greedy(&m, &p, 15);
    let mut e = StepEngine::new(&m, EngineConfig::default()).unwrap();
    let keep = e.add_request(request(&p, open, SamplingParams::greedy(15))).unwrap();
    let drop = e.add_request(request(&p, open, SamplingParams::greedy(15))).unwrap();
    e.step().unwrap();
    e.step().unwrap();
    assert!(e.cancel(drop));
    assert!(!e.cancel(drop), "a second cancel finds nothing");
    let mut seen_after_cancel = 0;
    let mut done = HashMap::new();
    while e.has_work() {
        for ev in e.step().unwrap() {
            if ev.id() == drop {
                seen_after_cancel += 1;
            }
            if let Event::Finished { id, output } = ev {
                done.insert(id, output.completion);
            }
        }
    }
    assert_eq!(seen_after_cancel, 0);
    assert_eq!(done[&keep].token_ids, want);
    assert_eq!(e.status().kv_reserved_bytes, 0);
}

#[test]
fn thinking_budget_closes_the_block_and_the_model_answers() {
    let m = model();
    let (p, open) = prompt(&m, "What is 2+3?");
    assert!(open, "the R1-distill template opens <think>");
    let close = m.tokenizer.as_ref().unwrap().encode("\n</think>\n\n", false).unwrap();
    let mut e = StepEngine::new(&m, EngineConfig::default()).unwrap();
    let mut r = request(&p, open, SamplingParams::greedy(30));
    r.thinking_budget = Some(8);
    r.ignore_eos = true;
    let id = e.add_request(r).unwrap();
    let done = run(&mut e);
    let c = &done[&id].0;
    assert_eq!(c.completion_tokens, 30, "ignore_eos runs to max_tokens");
    // "\n</think>" is the end of the thinking, "\n\n" the start of the answer.
    let closing = m.tokenizer.as_ref().unwrap().encode("\n</think>", false).unwrap().len();
    assert_eq!(c.reasoning_tokens, 8, "thought tokens then the closing ones, 8 in all");
    assert_eq!(&c.token_ids[8 - closing..8 - closing + close.len()], &close[..]);
    assert!(!c.content.is_empty() && !c.reasoning.contains("</think>"));
    // Greedy up to the budget: the thought tokens are the unforced model's.
    let free = reference_greedy(&m, &p, 8 - closing);
    assert_eq!(&c.token_ids[..free.len()], &free[..]);
}

#[test]
fn bad_requests_are_refused_before_they_reach_the_batch() {
    let m = model();
    let mut e =
        StepEngine::new(&m, EngineConfig { kv_budget_bytes: Some(100_000), ..EngineConfig::default() }).unwrap();
    let err = |r| e_add(&m, r);
    assert!(matches!(err(request(&[], false, SamplingParams::greedy(4))), EngineError::EmptyPrompt));
    assert!(matches!(
        err(request(&[5, 9999], false, SamplingParams::greedy(4))),
        EngineError::TokenOutOfRange { id: 9999, .. }
    ));
    assert!(matches!(
        err(request(&vec![5; 300], false, SamplingParams::greedy(4))),
        EngineError::PromptTooLong { tokens: 300, limit: 256 }
    ));
    let bad_t = SamplingParams { temperature: -1.0, ..SamplingParams::greedy(4) };
    assert!(matches!(err(request(&[5], false, bad_t)), EngineError::InvalidParam { field: "temperature", .. }));
    // KV budget: 3 layers x 2 kv heads x 16 dims x 2 (k, v) x 4 bytes = 768 bytes a token (f32).
    let big = request(&[5; 100], false, SamplingParams::greedy(100));
    let needed = 200 * 768;
    assert!(matches!(e.add_request(big), Err(EngineError::KvBudget { needed: n, budget: 100_000 }) if n == needed));
    // Two that fit only one at a time: the second waits, then runs.
    let half = request(&[5; 30], false, SamplingParams { ..SamplingParams::greedy(70) });
    let a = e.add_request(half.clone()).unwrap();
    let b = e.add_request(half).unwrap();
    e.step().unwrap();
    assert_eq!((e.status().running, e.status().waiting), (1, 1));
    let done = run(&mut e);
    assert!(done.contains_key(&a) && done.contains_key(&b));
}

fn e_add(m: &LoadedModel, r: Request) -> EngineError {
    StepEngine::new(m, EngineConfig::default()).unwrap().add_request(r).unwrap_err()
}

#[test]
fn speculative_strategy_gives_the_greedy_tokens_and_refuses_what_it_cannot_do() {
    let m = load_model(&fixture("deepseek_v3_mtp")).unwrap();
    let prompts: Vec<(Vec<u32>, bool)> = ["What is 2+3?", "Hello there"].iter().map(|t| prompt(&m, t)).collect();
    let mut e = StepEngine::new(&m, EngineConfig { speculative: true, ..EngineConfig::default() }).unwrap();
    let ids: Vec<u64> =
        prompts.iter().map(|(p, open)| e.add_request(request(p, *open, SamplingParams::greedy(16))).unwrap()).collect();
    let done = run(&mut e);
    for (id, (p, _)) in ids.iter().zip(&prompts) {
        let want = reference_greedy(&m, p, 16);
        assert!(want.len() >= 8, "{want:?}");
        assert_eq!(done[id].0.token_ids, want, "request {id}");
    }
    let mut r = request(&prompts[0].0, true, SamplingParams::greedy(4));
    r.thinking_budget = Some(2);
    assert!(matches!(e.add_request(r), Err(EngineError::InvalidParam { field: "thinking_budget", .. })));
    let plain = model();
    let err = StepEngine::new(&plain, EngineConfig { speculative: true, ..EngineConfig::default() }).err().unwrap();
    assert!(matches!(err, EngineError::NoMtp { .. }), "{err}");
}

#[test]
fn generate_requests_carries_a_thinking_budget() {
    let m = model();
    let (p, open) = prompt(&m, "What is 2+3?");
    let mut r = request(&p, open, SamplingParams::greedy(20));
    r.thinking_budget = Some(6);
    r.ignore_eos = true;
    let (out, _) = Engine::new(&m).generate_requests(&[r], |_, _| {}).unwrap();
    assert_eq!((out[0].reasoning_tokens, out[0].completion_tokens), (6, 20));
    assert!(!out[0].content.is_empty());
}
