//! Speculative decoding with the MTP draft: greedy output equals plain greedy decoding, the
//! accept/resample step leaves the main model's distribution unchanged (exactly, summed over the
//! draft's outcomes, and empirically end to end), and the counts add up.

mod common;
use common::*;

use reasoner_engine::sampler::argmax;
use reasoner_engine::speculative::{
    SpeculativeDecoder, acceptance_probability, generate_speculative, residual_distribution, verify_draft,
};
use reasoner_engine::{Sampler, SamplingParams};
use reasoner_model::{LoadedModel, LogitsFor, SeqInput, load_model};

fn mtp_model() -> LoadedModel {
    load_model(&fixture("deepseek_v3_mtp")).unwrap()
}

const PROMPT: &[u32] = &[12, 7, 301, 44, 5, 250, 99, 3, 170];

/// Plain greedy decoding through the model's own forward, one token per call.
fn plain_greedy(m: &LoadedModel, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut cache = m.model.new_cache();
    let logits = m.model.forward(&mut [SeqInput { tokens: prompt, cache: Some(&mut cache) }], LogitsFor::Last).unwrap();
    let mut next = argmax(&logits[0].flatten_all().unwrap().to_vec1::<f32>().unwrap());
    let mut out = vec![next];
    while out.len() < n {
        let tok = [next];
        let logits =
            m.model.forward(&mut [SeqInput { tokens: &tok, cache: Some(&mut cache) }], LogitsFor::Last).unwrap();
        next = argmax(&logits[0].flatten_all().unwrap().to_vec1::<f32>().unwrap());
        out.push(next);
    }
    out
}

#[test]
fn greedy_speculative_equals_plain_greedy() {
    let m = mtp_model();
    let prompts: [&[u32]; 3] = [PROMPT, &[1, 2, 3], &[383]];
    let mut total = (0, 0);
    for prompt in prompts {
        let plain = plain_greedy(&m, prompt, 24);
        let (spec, stats) = generate_speculative(&m, prompt, &SamplingParams::greedy(24), 24, &[]).unwrap();
        assert_eq!(spec, plain, "prompt {prompt:?}");
        total = (total.0 + stats.accepted, total.1 + stats.drafted);
    }
    eprintln!("greedy acceptance on deepseek_v3_mtp: {}/{}", total.0, total.1);
}

/// A prompt fed in pieces (main model, then the draft, piece by piece) drafts and verifies as
/// the one-pass prompt does: same drafts, acceptances and tokens, probabilities within
/// rounding. A draft cache that missed or repeated a prompt position would change the draft's
/// probabilities.
#[test]
fn chunked_prompt_drafts_as_one_pass() {
    let m = mtp_model();
    let steps = |chunk: usize| {
        let (mut dec, first) =
            SpeculativeDecoder::start_chunked(&m, PROMPT, &SamplingParams::greedy(16), chunk).unwrap();
        let steps: Vec<_> = (0..8).map(|_| dec.step().unwrap()).collect();
        (first, steps, dec.stats.main_forwards)
    };
    let (first, whole, forwards) = steps(1000);
    assert_eq!(forwards, 1 + 8);
    for chunk in [1, 2, 4] {
        let (f, pieces, forwards) = steps(chunk);
        assert_eq!(f, first, "chunk {chunk}");
        assert_eq!(forwards, PROMPT.len().div_ceil(chunk) + 8, "chunk {chunk}");
        for (i, (a, b)) in pieces.iter().zip(&whole).enumerate() {
            assert_eq!((a.draft, a.accepted, &a.tokens), (b.draft, b.accepted, &b.tokens), "chunk {chunk}, step {i}");
            assert!(
                (a.draft_prob - b.draft_prob).abs() < 1e-4 && (a.main_prob - b.main_prob).abs() < 1e-4,
                "chunk {chunk}, step {i}: {a:?} vs {b:?}"
            );
        }
    }
}

#[test]
fn counts_add_up() {
    let m = mtp_model();
    for (seed, temperature) in [(0, 0.0), (1, 1.0), (2, 0.7)] {
        let params = SamplingParams { temperature, top_p: 1.0, seed, ..Default::default() };
        for max_tokens in [1, 2, 5, 17] {
            let (out, s) = generate_speculative(&m, PROMPT, &params, max_tokens, &[]).unwrap();
            assert_eq!(out.len(), max_tokens);
            assert!(s.accepted <= s.drafted);
            assert_eq!(s.main_forwards, 1 + s.drafted);
            // Each step yields the verified token plus a bonus after an acceptance; the last
            // step's bonus may be cut by max_tokens.
            let produced = 1 + s.drafted + s.accepted;
            assert!(produced == out.len() || produced == out.len() + 1, "{s:?} for {} tokens", out.len());
            assert_eq!(s.decode_tokens, max_tokens - 1);
            assert!((0.0..=1.0).contains(&s.acceptance_rate()));
        }
    }
    // EOS stops before the token: greedy ids of the prompt above, one of them as EOS.
    let greedy = plain_greedy(&m, PROMPT, 6);
    let (out, _) = generate_speculative(&m, PROMPT, &SamplingParams::greedy(6), 6, &[greedy[3]]).unwrap();
    let cut = greedy.iter().position(|&t| t == greedy[3]).unwrap();
    assert_eq!(out, greedy[..cut]);
}

#[test]
fn model_without_mtp_is_refused_by_name() {
    let m = load_model(&fixture("qwen2_f32")).unwrap();
    assert!(m.model.mtp_draft().is_none());
    let e = generate_speculative(&m, &[1, 2], &SamplingParams::greedy(4), 4, &[]).unwrap_err().to_string();
    assert!(e.contains("no MTP module") && e.contains("qwen2_f32"), "{e}");
}

/// P(out = x) = Σ_d q(d) [a(d)·1[x = d] + (1 − a(d))·r(x)], with a and r the functions the
/// decoder uses.
fn spec_output(p: &[(u32, f32)], q: &[(u32, f32)], vocab: usize) -> Vec<f64> {
    let mut out = vec![0f64; vocab];
    let r = residual_distribution(p, q);
    for &(d, qd) in q {
        let a = acceptance_probability(p, q, d) as f64;
        out[d as usize] += qd as f64 * a;
        for &(x, rx) in &r {
            out[x as usize] += qd as f64 * (1.0 - a) * rx as f64;
        }
    }
    out
}

fn dense(p: &[(u32, f32)], vocab: usize) -> Vec<f64> {
    let mut v = vec![0f64; vocab];
    p.iter().for_each(|&(t, w)| v[t as usize] += w as f64);
    v
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(worst <= tol, "{what}: off by {worst:e}\n{a:?}\n{b:?}");
}

#[test]
fn accept_or_resample_keeps_the_main_distribution_exactly() {
    type Dist = Vec<(u32, f32)>;
    let cases: Vec<(Dist, Dist)> = vec![
        // overlapping supports, q too sharp
        (vec![(0, 0.5), (1, 0.3), (2, 0.2)], vec![(1, 0.9), (0, 0.1)]),
        // q wider than p (top-p cut p, not q)
        (vec![(3, 0.7), (0, 0.3)], vec![(0, 0.25), (1, 0.25), (2, 0.25), (3, 0.25)]),
        // disjoint supports: always rejected
        (vec![(4, 1.0)], vec![(0, 0.6), (1, 0.4)]),
        // identical: always accepted
        (vec![(2, 0.4), (1, 0.35), (0, 0.25)], vec![(2, 0.4), (1, 0.35), (0, 0.25)]),
        // greedy, draft right / draft wrong
        (vec![(3, 1.0)], vec![(3, 1.0)]),
        (vec![(3, 1.0)], vec![(1, 1.0)]),
    ];
    for (i, (p, q)) in cases.iter().enumerate() {
        assert_close(&spec_output(p, q, 5), &dense(p, 5), 1e-6, &format!("case {i}"));
    }
    // Greedy: accept exactly when the draft is the argmax.
    let mut s = Sampler::new(SamplingParams::greedy(1));
    assert_eq!(verify_draft(&mut s, &[(3, 1.0)], &[(3, 1.0)], 3), (true, 3));
    assert_eq!(verify_draft(&mut s, &[(3, 1.0)], &[(1, 1.0)], 1), (false, 3));
}

#[test]
fn accept_or_resample_keeps_the_main_distribution_on_model_outputs() {
    // p and q as the decoder builds them: the main model's and the MTP module's logits at the
    // same position, through the same sampler settings.
    let m = mtp_model();
    let draft = m.model.mtp_draft().unwrap();
    let vocab = m.model.info().vocab_size;
    let mut cache = m.model.new_cache();
    let (logits, hidden) = draft
        .forward_with_all_hidden(&mut [SeqInput { tokens: PROMPT, cache: Some(&mut cache) }], LogitsFor::Last)
        .unwrap();
    let first = argmax(&logits[0].flatten_all().unwrap().to_vec1::<f32>().unwrap());
    let mut history = PROMPT.to_vec();
    history.push(first);
    let mut draft_cache = draft.new_draft_cache();
    let q_logits = draft.draft_logits(&hidden[0], &history[1..], &mut draft_cache, LogitsFor::Last).unwrap();
    let (p_logits, _) = draft
        .forward_with_all_hidden(&mut [SeqInput { tokens: &[first], cache: Some(&mut cache) }], LogitsFor::Last)
        .unwrap();
    for params in [
        SamplingParams { temperature: 1.0, top_p: 1.0, ..Default::default() },
        SamplingParams {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.02,
            repeat_penalty: 1.3,
            ..Default::default()
        },
        SamplingParams { temperature: 2.0, top_k: 5, top_p: 1.0, ..Default::default() },
    ] {
        let mut s = Sampler::new(params.clone());
        let p = s.distribution(&mut p_logits[0].flatten_all().unwrap().to_vec1::<f32>().unwrap(), &history);
        let q = s.distribution(&mut q_logits.flatten_all().unwrap().to_vec1::<f32>().unwrap(), &history);
        assert_close(&spec_output(&p, &q, vocab), &dense(&p, vocab), 1e-6, &format!("{params:?}"));

        // And by drawing: d ~ q, then verify_draft, many times.
        let n = 100_000;
        let mut counts = vec![0f64; vocab];
        for _ in 0..n {
            let d = s.draw(&q);
            counts[verify_draft(&mut s, &p, &q, d).1 as usize] += 1.0 / n as f64;
        }
        assert_close(&counts, &dense(&p, vocab), 0.01, &format!("sampled, {params:?}"));
    }
}

/// End to end: the second token after a fixed prompt (the first one the draft takes part in),
/// over 2000 seeds, against its exact distribution under plain sampling, Σ_t1 P(t1)·P(t2 | t1)
/// from the main model, by a chi-square test over ten bins of equal expected mass.
#[test]
fn sampled_tokens_follow_plain_sampling() {
    let m = mtp_model();
    let vocab = m.model.info().vocab_size;
    let params = SamplingParams { temperature: 1.0, top_k: 60, top_p: 1.0, ..Default::default() };
    let dist_after = |history: &[u32]| {
        let logits = m.model.forward(&mut [SeqInput { tokens: history, cache: None }], LogitsFor::Last).unwrap();
        Sampler::new(params.clone())
            .distribution(&mut logits[0].flatten_all().unwrap().to_vec1::<f32>().unwrap(), history)
    };
    let mut expected = vec![0f64; vocab];
    for (t1, p1) in dist_after(PROMPT) {
        let history: Vec<u32> = PROMPT.iter().copied().chain([t1]).collect();
        for (t2, p2) in dist_after(&history) {
            expected[t2 as usize] += p1 as f64 * p2 as f64;
        }
    }
    let runs = 2000;
    let mut observed = vec![0f64; vocab];
    let mut accepted = 0;
    for seed in 0..runs {
        let (out, s) = generate_speculative(&m, PROMPT, &SamplingParams { seed, ..params.clone() }, 2, &[]).unwrap();
        accepted += s.accepted;
        observed[out[1] as usize] += 1.0;
    }
    assert!((0..vocab).all(|t| observed[t] == 0.0 || expected[t] > 0.0), "a token plain sampling never makes");
    assert!(accepted > 50, "only {accepted} of {runs} drafts accepted: the accept path is barely tested");
    // Bins of ~equal expected mass, most likely tokens first.
    let mut order: Vec<usize> = (0..vocab).filter(|&t| expected[t] > 0.0).collect();
    order.sort_by(|&a, &b| expected[b].total_cmp(&expected[a]));
    let bins = 10;
    let (mut e_bins, mut o_bins) = (vec![0f64; bins], vec![0f64; bins]);
    let mut acc = 0.0;
    for t in order {
        let b = ((acc * bins as f64) as usize).min(bins - 1);
        acc += expected[t];
        e_bins[b] += expected[t] * runs as f64;
        o_bins[b] += observed[t];
    }
    let chi2: f64 = e_bins.iter().zip(&o_bins).map(|(e, o)| (o - e).powi(2) / e).sum();
    eprintln!("chi2 = {chi2:.2} over {bins} bins, {accepted}/{runs} drafts accepted");
    // 9 degrees of freedom: P(chi2 > 33) ≈ 1.3e-4.
    assert!(chi2 < 33.0, "chi2 {chi2}: observed {o_bins:?} vs expected {e_bins:?}");
}

/// The decoder feeds the draft the right (hidden state, next token) pairs: every step's q(d) and
/// p(d) equal the full-pass MTP and main probabilities at that position, over a run with both
/// accepted and rejected drafts.
#[test]
fn drafts_line_up_with_the_full_pass() {
    let m = mtp_model();
    let draft = m.model.mtp_draft().unwrap();
    let params = SamplingParams { temperature: 1.0, top_p: 1.0, seed: 11, ..Default::default() };
    let (mut dec, _) = SpeculativeDecoder::start(&m, PROMPT, &params).unwrap();
    let mut steps = Vec::new();
    while dec.history().len() < PROMPT.len() + 60 {
        let before = dec.history().len();
        steps.push((before, dec.step().unwrap()));
    }
    let all = dec.history().to_vec();
    let (main, hidden) =
        draft.forward_with_all_hidden(&mut [SeqInput { tokens: &all, cache: None }], LogitsFor::All).unwrap();
    let h = hidden[0].narrow(0, 0, all.len() - 1).unwrap();
    let mut cache = draft.new_draft_cache();
    let mtp = draft.draft_logits(&h, &all[1..], &mut cache, LogitsFor::All).unwrap();
    let prob = |logits: &candle_core::Tensor, row: usize, token: u32| {
        let mut l = logits.get(row).unwrap().to_vec1::<f32>().unwrap();
        let d = Sampler::new(params.clone()).distribution(&mut l, &[]);
        d.iter().find(|x| x.0 == token).map_or(0.0, |x| x.1)
    };
    let accepted = steps.iter().filter(|s| s.1.accepted).count();
    assert!(accepted > 0 && accepted < steps.len(), "{accepted} of {} accepted: both paths should run", steps.len());
    for (n, step) in &steps {
        // The step drafted history[n] from the MTP entry at position n-2, and the main model
        // scored it at position n-1.
        let q = prob(&mtp, n - 2, step.draft);
        let p = prob(&main[0], n - 1, step.draft);
        assert!((q - step.draft_prob).abs() < 1e-4 * q.max(1e-3), "step at {n}: q {q} vs {}", step.draft_prob);
        assert!((p - step.main_prob).abs() < 1e-4 * p.max(1e-3), "step at {n}: p {p} vs {}", step.main_prob);
        assert_eq!(all[*n], if step.accepted { step.draft } else { step.tokens[0] });
    }
}
