//! Turning logits into the next token: repetition penalty, temperature, top-k, top-p, min-p,
//! then a draw from a seeded generator (same seed, same output). Temperature 0 is greedy.
//! The order follows transformers' logits processors so settings mean the same thing.

use crate::error::EngineError;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    pub temperature: f32,
    pub top_k: usize,
    pub top_p: f32,
    pub min_p: f32,
    pub repeat_penalty: f32,
    pub seed: u64,
    pub max_tokens: usize,
}

impl Default for SamplingParams {
    fn default() -> Self {
        // DeepSeek recommends 0.6 / 0.95 for R1 and its distills.
        Self { temperature: 0.6, top_k: 0, top_p: 0.95, min_p: 0.0, repeat_penalty: 1.0, seed: 0, max_tokens: 1024 }
    }
}

impl SamplingParams {
    pub fn greedy(max_tokens: usize) -> Self {
        Self { temperature: 0.0, top_p: 1.0, max_tokens, ..Self::default() }
    }

    /// Check ranges; the error names the field (as a request spells it).
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |field: &'static str, message: String| Err(EngineError::InvalidParam { field, message });
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad("temperature", format!("must be >= 0, got {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad("top_p", format!("must be in (0, 1], got {}", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", format!("must be in [0, 1], got {}", self.min_p));
        }
        if !(self.repeat_penalty > 0.0 && self.repeat_penalty.is_finite()) {
            return bad("repeat_penalty", format!("must be > 0, got {}", self.repeat_penalty));
        }
        if self.max_tokens == 0 {
            return bad("max_tokens", "must be at least 1".into());
        }
        Ok(())
    }
}

/// How far below the best scaled logit a token may sit and still be sorted (see `filter`).
const TAIL_CUT: f32 = 30.0;

pub struct Sampler {
    pub params: SamplingParams,
    rng: StdRng,
    /// Scratch buffer of (token, weight) reused across steps: no allocation per token.
    candidates: Vec<(u32, f32)>,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = StdRng::seed_from_u64(params.seed);
        Self { params, rng, candidates: Vec::new() }
    }

    /// Pick the next token. `logits` is modified in place; `history` is prompt + generated ids.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        if let Some(id) = self.filter(logits, history) {
            return id;
        }
        let total: f32 = self.candidates.iter().map(|x| x.1).sum();
        let r = self.rng.random::<f32>() * total;
        pick(&self.candidates, r)
    }

    /// The distribution `sample` draws from, as (token, probability) pairs summing to 1, most
    /// likely first; greedy (temperature 0) is all mass on the argmax. `logits` is modified in
    /// place. Speculative decoding compares the main model's and the draft's with it.
    pub fn distribution(&mut self, logits: &mut [f32], history: &[u32]) -> Vec<(u32, f32)> {
        if let Some(id) = self.filter(logits, history) {
            return vec![(id, 1.0)];
        }
        let total: f32 = self.candidates.iter().map(|x| x.1).sum();
        self.candidates.iter().map(|&(t, w)| (t, w / total)).collect()
    }

    /// Draw a token from (token, weight) pairs with this sampler's generator; the weights need
    /// not sum to 1. An empty list gives token 0.
    pub fn draw(&mut self, dist: &[(u32, f32)]) -> u32 {
        if dist.is_empty() {
            return 0;
        }
        let total: f32 = dist.iter().map(|x| x.1).sum();
        let r = self.rng.random::<f32>() * total;
        pick(dist, r)
    }

    /// A uniform draw from [0, 1) with this sampler's generator (speculative accept tests).
    pub fn uniform(&mut self) -> f32 {
        self.rng.random::<f32>()
    }

    /// Penalty, temperature and the top-k / top-p / min-p cuts. Returns the token when the choice
    /// is already made (greedy, or no finite logit); otherwise leaves the survivors with their
    /// unnormalised weights in `self.candidates`, most likely first.
    fn filter(&mut self, logits: &mut [f32], history: &[u32]) -> Option<u32> {
        let p = &self.params;
        if p.repeat_penalty != 1.0 {
            apply_repeat_penalty(logits, history, p.repeat_penalty);
        }
        if p.temperature == 0.0 {
            return Some(argmax(logits));
        }
        let inv_t = 1.0 / p.temperature;
        // Sorting a 150k vocabulary every token costs milliseconds. Tokens whose scaled logit is
        // more than TAIL_CUT below the best have relative weight < e^-30 (1e-13): together they
        // hold under 1e-7 of the mass at any vocabulary size, far below f32's resolution of the
        // sums below, so leaving them out of the sort changes no result.
        let best = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max) * inv_t;
        let floor = best - TAIL_CUT;
        let c = &mut self.candidates;
        c.clear();
        c.extend(
            logits
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as u32, l * inv_t))
                .filter(|(_, l)| l.is_finite() && *l >= floor),
        );
        if c.is_empty() {
            return Some(argmax(logits));
        }
        c.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        if p.top_k > 0 && p.top_k < c.len() {
            c.truncate(p.top_k);
        }
        // Softmax over the survivors (sorted, so the max is first).
        let max = c[0].1;
        let mut sum = 0.0f32;
        for x in c.iter_mut() {
            x.1 = (x.1 - max).exp();
            sum += x.1;
        }
        for x in c.iter_mut() {
            x.1 /= sum;
        }
        if p.top_p < 1.0 {
            // Keep the smallest prefix whose mass reaches top_p (always at least one token).
            let mut acc = 0.0;
            let mut keep = c.len();
            for (i, x) in c.iter().enumerate() {
                acc += x.1;
                if acc >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
            c.truncate(keep);
        }
        if p.min_p > 0.0 {
            let threshold = c[0].1 * p.min_p;
            let keep = c.iter().take_while(|x| x.1 >= threshold).count().max(1);
            c.truncate(keep);
        }
        None
    }
}

/// Walk the weights until `r` (uniform in [0, total)) is used up; the last token catches rounding.
fn pick(c: &[(u32, f32)], mut r: f32) -> u32 {
    for x in c {
        r -= x.1;
        if r <= 0.0 {
            return x.0;
        }
    }
    c[c.len() - 1].0
}

pub fn argmax(logits: &[f32]) -> u32 {
    // The largest value first, in eight independent lanes (they vectorize; a running index
    // would make every step wait on the one before), then its first position. NaNs are never
    // greater, so they are skipped, as a NaN at 0 keeps 0.
    if logits.first().is_none_or(|l| l.is_nan()) {
        return 0;
    }
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = logits.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
        }
    }
    let max = lanes.iter().chain(tail).fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
    logits.iter().position(|&l| l == max).unwrap_or(0) as u32
}

/// CTRL-style penalty as transformers applies it: seen tokens' positive logits are divided by
/// the penalty and negative ones multiplied.
fn apply_repeat_penalty(logits: &mut [f32], history: &[u32], penalty: f32) {
    let mut seen = std::collections::HashSet::with_capacity(history.len());
    for &t in history {
        if seen.insert(t)
            && let Some(l) = logits.get_mut(t as usize)
        {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits() -> Vec<f32> {
        vec![1.0, 3.0, 2.0, 0.5, -1.0, 2.9]
    }

    #[test]
    fn greedy_picks_argmax() {
        let mut s = Sampler::new(SamplingParams::greedy(10));
        assert_eq!(s.sample(&mut logits(), &[]), 1);
    }

    #[test]
    fn argmax_is_the_first_largest_value_skipping_nans() {
        // The plain definition: the first index whose value no later value exceeds.
        let reference = |xs: &[f32]| {
            let mut best = 0;
            for (i, &l) in xs.iter().enumerate() {
                if l > xs[best] {
                    best = i;
                }
            }
            best as u32
        };
        let mut state = 12345u32;
        let mut next = move || {
            state = state.wrapping_mul(1664525).wrapping_add(1013904223);
            state >> 8
        };
        for len in [1, 7, 8, 9, 31, 64, 1000] {
            for _ in 0..50 {
                // Few distinct values so ties are common; now and then a NaN or -inf.
                let xs: Vec<f32> = (0..len)
                    .map(|_| match next() % 20 {
                        0 => f32::NAN,
                        1 => f32::NEG_INFINITY,
                        v => (v % 7) as f32,
                    })
                    .collect();
                assert_eq!(argmax(&xs), reference(&xs), "{xs:?}");
            }
        }
        assert_eq!(argmax(&[f32::NAN, 5.0, 6.0]), 0);
        assert_eq!(argmax(&[f32::NEG_INFINITY; 9]), 0);
        assert_eq!(argmax(&[]), 0);
    }

    #[test]
    fn same_seed_same_tokens_and_different_seed_differs() {
        let params = SamplingParams { temperature: 1.5, top_p: 1.0, seed: 7, ..Default::default() };
        let run = |p: &SamplingParams| {
            let mut s = Sampler::new(p.clone());
            (0..64).map(|_| s.sample(&mut logits(), &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(&params), run(&params));
        assert_ne!(run(&params), run(&SamplingParams { seed: 8, ..params.clone() }));
    }

    #[test]
    fn top_k_one_is_greedy_and_top_k_two_stays_in_top_two() {
        let mut s = Sampler::new(SamplingParams { temperature: 1.0, top_k: 1, top_p: 1.0, ..Default::default() });
        for _ in 0..20 {
            assert_eq!(s.sample(&mut logits(), &[]), 1);
        }
        let mut s = Sampler::new(SamplingParams { temperature: 5.0, top_k: 2, top_p: 1.0, ..Default::default() });
        for _ in 0..50 {
            assert!([1, 5].contains(&s.sample(&mut logits(), &[])));
        }
    }

    #[test]
    fn top_p_and_min_p_cut_the_tail() {
        // probabilities ~ [0.47, 0.43, ...]: top_p 0.5 keeps two tokens.
        let mut s = Sampler::new(SamplingParams { temperature: 1.0, top_p: 0.5, ..Default::default() });
        for _ in 0..50 {
            assert!([1, 5].contains(&s.sample(&mut logits(), &[])));
        }
        let mut s = Sampler::new(SamplingParams { temperature: 1.0, top_p: 1.0, min_p: 0.95, ..Default::default() });
        for _ in 0..50 {
            assert_eq!(s.sample(&mut logits(), &[]), 1);
        }
    }

    #[test]
    fn repeat_penalty_moves_greedy_choice() {
        let mut s = Sampler::new(SamplingParams { repeat_penalty: 2.0, ..SamplingParams::greedy(5) });
        assert_eq!(s.sample(&mut logits(), &[1]), 5);
    }

    #[test]
    fn distribution_is_what_sample_draws_from() {
        let params =
            SamplingParams { temperature: 0.8, top_k: 4, top_p: 0.9, min_p: 0.05, seed: 3, ..Default::default() };
        let d = Sampler::new(params.clone()).distribution(&mut logits(), &[]);
        assert!((d.iter().map(|x| x.1).sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(d.windows(2).all(|w| w[0].1 >= w[1].1));
        // Same seed: `draw` over the distribution picks what `sample` picks.
        let (mut a, mut b) = (Sampler::new(params.clone()), Sampler::new(params));
        for _ in 0..64 {
            assert_eq!(a.sample(&mut logits(), &[]), b.draw(&d));
        }
        let g = Sampler::new(SamplingParams::greedy(1)).distribution(&mut logits(), &[]);
        assert_eq!(g, vec![(1, 1.0)]);
    }

    #[test]
    fn validation_names_the_field_not_a_flag() {
        let e = SamplingParams { top_p: 0.0, ..Default::default() }.validate().unwrap_err().to_string();
        assert!(e.starts_with("top_p:") && !e.contains("--"), "{e}");
    }
}
