//! Speculative decoding with a model's built-in MTP draft (DeepSeek-V3): draft one token with the
//! MTP module, check [current, draft] in one main forward, then accept the draft or resample so
//! every token still has exactly the main model's sampling distribution (Leviathan et al. 2023).

use crate::error::{EngineError, Result};
use crate::sampler::{Sampler, SamplingParams};
use candle_core::Tensor;
use reasoner_model::causal_lm::MtpDraft;
use reasoner_model::{LoadedModel, LogitsFor, PREFILL_CHUNK, SeqInput, SequenceCache};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SpecStats {
    /// Draft tokens proposed by the MTP module.
    pub drafted: usize,
    /// Of those, how many the main model kept.
    pub accepted: usize,
    /// Main-model forward calls, the prompt's included.
    pub main_forwards: usize,
    /// The prompt through the main model and the draft, and the first token.
    pub prefill_secs: f64,
    /// Tokens after the first one, and the time they took.
    pub decode_tokens: usize,
    pub decode_secs: f64,
}

impl SpecStats {
    pub fn acceptance_rate(&self) -> f64 {
        if self.drafted == 0 { 0.0 } else { self.accepted as f64 / self.drafted as f64 }
    }
}

fn prob_of(dist: &[(u32, f32)], token: u32) -> f32 {
    dist.iter().find(|x| x.0 == token).map_or(0.0, |x| x.1)
}

/// The chance that speculative sampling keeps `draft`: min(1, p(d) / q(d)), where p is the main
/// model's distribution and q the draft's (the one `draft` was drawn from).
pub fn acceptance_probability(p: &[(u32, f32)], q: &[(u32, f32)], draft: u32) -> f32 {
    let qd = prob_of(q, draft);
    if qd <= 0.0 { 1.0 } else { (prob_of(p, draft) / qd).min(1.0) }
}

/// What to sample from after a rejection: normalize(max(0, p − q)). When that has no mass (p ≤ q
/// everywhere, which only rounding can cause once a rejection happened) it falls back to p.
pub fn residual_distribution(p: &[(u32, f32)], q: &[(u32, f32)]) -> Vec<(u32, f32)> {
    let width = q.iter().map(|x| x.0 as usize + 1).max().unwrap_or(0);
    let mut dense_q = vec![0f32; width];
    for &(t, w) in q {
        dense_q[t as usize] = w;
    }
    let mut r: Vec<(u32, f32)> = p
        .iter()
        .map(|&(t, w)| (t, (w - dense_q.get(t as usize).copied().unwrap_or(0.0)).max(0.0)))
        .filter(|x| x.1 > 0.0)
        .collect();
    let total: f32 = r.iter().map(|x| x.1).sum();
    if total <= 0.0 {
        return p.to_vec();
    }
    r.iter_mut().for_each(|x| x.1 /= total);
    r
}

/// Accept `draft` with probability min(1, p(d)/q(d)), else draw from the residual. Returns
/// (accepted, token). Over the draw of d ~ q and this step, the token is distributed as p. With
/// temperature 0 both are one-hot, so this keeps d exactly when it is the main model's argmax.
pub fn verify_draft(sampler: &mut Sampler, p: &[(u32, f32)], q: &[(u32, f32)], draft: u32) -> (bool, u32) {
    let a = acceptance_probability(p, q, draft);
    if a >= 1.0 || (a > 0.0 && sampler.uniform() < a) {
        return (true, draft);
    }
    (false, sampler.draw(&residual_distribution(p, q)))
}

fn row(logits: &Tensor, i: usize) -> Result<Vec<f32>> {
    Ok(logits.get(i)?.to_vec1::<f32>()?)
}

/// What one speculative step did.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecStep {
    /// The token the MTP module drafted.
    pub draft: u32,
    /// q(draft) and p(draft): its probability under the draft's and the main model's processed
    /// distributions.
    pub draft_prob: f32,
    pub main_prob: f32,
    pub accepted: bool,
    /// The new tokens: the draft and the bonus token after it, or the resampled token.
    pub tokens: Vec<u32>,
}

/// One sequence decoding speculatively. The main cache holds every position but the last
/// token's; the draft cache the same, except that the newest positions' entries wait in
/// `pending` until the next step needs them, so a finished sequence does no wasted draft work.
pub struct SpeculativeDecoder<'m> {
    draft: &'m dyn MtpDraft,
    sampler: Sampler,
    cache: SequenceCache,
    draft_cache: SequenceCache,
    history: Vec<u32>,
    /// Main-model hidden states of the positions not yet given to the draft, (rows, hidden);
    /// each is followed by history[pending_from + row].
    pending: Tensor,
    pending_from: usize,
    /// Draft logits for the token after the history, once `pending` has been through the draft.
    draft_logits: Option<Tensor>,
    pub stats: SpecStats,
}

impl<'m> SpeculativeDecoder<'m> {
    /// Run the prompt through the main model and sample the first token (without the draft).
    pub fn start(model: &'m LoadedModel, prompt_ids: &[u32], params: &SamplingParams) -> Result<(Self, u32)> {
        Self::start_chunked(model, prompt_ids, params, PREFILL_CHUNK)
    }

    /// `start` with the prompt fed `chunk` tokens per pass (as `forward_chunked` does for plain
    /// decoding), through the main model and then the draft, so a long prompt's activations
    /// scale with the chunk; the last piece waits in `pending` for the first sampled token,
    /// which its last row predicts.
    pub fn start_chunked(
        model: &'m LoadedModel,
        prompt_ids: &[u32],
        params: &SamplingParams,
        chunk: usize,
    ) -> Result<(Self, u32)> {
        let lm = model.model.as_ref();
        let draft = lm.mtp_draft().ok_or_else(|| EngineError::NoMtp { path: model.path.clone() })?;
        params.validate()?;
        if prompt_ids.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let (mut cache, mut draft_cache) = (model.new_cache(), draft.new_draft_cache());
        let pieces: Vec<&[u32]> = prompt_ids.chunks(chunk.max(1)).collect();
        let (last_piece, earlier) = pieces.split_last().expect("a non-empty prompt has a piece");
        let mut start = 0;
        for piece in earlier {
            let (_, hidden) = draft
                .forward_with_all_hidden(&mut [SeqInput { tokens: piece, cache: Some(&mut cache) }], LogitsFor::Last)?;
            // Every row's next token is still in the prompt, so the piece goes through the draft
            // now (its logits would predict prompt tokens: not needed).
            draft.draft_logits(
                &hidden[0],
                &prompt_ids[start + 1..=start + piece.len()],
                &mut draft_cache,
                LogitsFor::Last,
            )?;
            start += piece.len();
        }
        let (logits, mut hidden) = draft.forward_with_all_hidden(
            &mut [SeqInput { tokens: last_piece, cache: Some(&mut cache) }],
            LogitsFor::Last,
        )?;
        let pending = hidden.swap_remove(0);
        let mut sampler = Sampler::new(params.clone());
        let mut history = prompt_ids.to_vec();
        let first = sampler.sample(&mut row(&logits[0], 0)?, &history);
        history.push(first);
        let stats = SpecStats { main_forwards: pieces.len(), ..SpecStats::default() };
        let mut d = Self {
            draft,
            sampler,
            cache,
            draft_cache,
            history,
            pending,
            pending_from: start + 1,
            draft_logits: None,
            stats,
        };
        // The rest of the prompt through the draft now, so that the decode steps only see one or two rows.
        d.draft_logits = Some(d.run_draft()?);
        Ok((d, first))
    }

    /// Give the pending positions to the draft; its logits predict the token after the history.
    fn run_draft(&mut self) -> Result<Tensor> {
        let rows = self.pending.dim(0)?;
        let next = &self.history[self.pending_from..self.pending_from + rows];
        Ok(self.draft.draft_logits(&self.pending, next, &mut self.draft_cache, LogitsFor::Last)?)
    }

    /// Prompt and every token so far.
    pub fn history(&self) -> &[u32] {
        &self.history
    }

    /// Draft the next token, verify [current, draft] in one main forward, and accept the draft
    /// (plus the bonus token the second position gives) or resample.
    pub fn step(&mut self) -> Result<SpecStep> {
        let n = self.history.len();
        let draft_logits = match self.draft_logits.take() {
            Some(l) => l,
            None => self.run_draft()?,
        };
        let q = self.sampler.distribution(&mut row(&draft_logits, 0)?, &self.history);
        let d = self.sampler.draw(&q);
        self.stats.drafted += 1;

        let tokens = [self.history[n - 1], d];
        let (logits, hidden) = self.draft.forward_with_all_hidden(
            &mut [SeqInput { tokens: &tokens, cache: Some(&mut self.cache) }],
            LogitsFor::All,
        )?;
        self.stats.main_forwards += 1;
        let p = self.sampler.distribution(&mut row(&logits[0], 0)?, &self.history);
        let (draft_prob, main_prob) = (prob_of(&q, d), prob_of(&p, d));
        let (accepted, token) = verify_draft(&mut self.sampler, &p, &q, d);
        self.history.push(token);
        // Position n-1 (the current token) is final either way; position n only if d stayed.
        self.pending_from = n;
        if accepted {
            self.stats.accepted += 1;
            // The main model already scored the position after the draft: a free token.
            let bonus = self.sampler.sample(&mut row(&logits[0], 1)?, &self.history);
            self.history.push(bonus);
            self.pending = hidden[0].clone();
            Ok(SpecStep { draft: d, draft_prob, main_prob, accepted, tokens: vec![d, bonus] })
        } else {
            self.cache.truncate(n); // drop the rejected draft's entry
            self.pending = hidden[0].narrow(0, 0, 1)?;
            Ok(SpecStep { draft: d, draft_prob, main_prob, accepted, tokens: vec![token] })
        }
    }
}

/// Generate up to `max_tokens` tokens for one sequence with the model's MTP module as draft.
/// Stops before any id in `eos_ids` (pass none to ignore EOS). Seeded runs are reproducible but
/// draw differently from `Sampler::sample`, so only greedy output equals plain decoding's.
pub fn generate_speculative(
    model: &LoadedModel,
    prompt_ids: &[u32],
    params: &SamplingParams,
    max_tokens: usize,
    eos_ids: &[u32],
) -> Result<(Vec<u32>, SpecStats)> {
    let mut out = Vec::with_capacity(max_tokens);
    let t0 = Instant::now();
    let (mut dec, first) = SpeculativeDecoder::start(model, prompt_ids, params)?;
    dec.stats.prefill_secs = t0.elapsed().as_secs_f64();
    if max_tokens == 0 || eos_ids.contains(&first) {
        return Ok((out, dec.stats));
    }
    out.push(first);
    let t1 = Instant::now();
    'decode: while out.len() < max_tokens {
        for t in dec.step()?.tokens {
            if eos_ids.contains(&t) || out.len() >= max_tokens {
                break 'decode;
            }
            out.push(t);
        }
    }
    dec.stats.decode_tokens = out.len() - 1;
    dec.stats.decode_secs = t1.elapsed().as_secs_f64();
    Ok((out, dec.stats))
}
