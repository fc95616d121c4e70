//! One request inside the step engine: its KV cache, sampler, detokenizer, stop matcher and
//! reasoning parser, and what happens when the model has scored its next position (sample or
//! take a forced token, route the text, decide whether it is done).

use crate::detokenize::IncrementalDecoder;
use crate::error::{EngineError, Result};
use crate::generation::Completion;
use crate::reasoning::{ReasoningParser, Segment};
use crate::request::{Event, Request, RequestId, TokenLogprob};
use crate::sampler::Sampler;
use crate::stop::StopMatcher;
use candle_core::Tensor;
use reasoner_model::SequenceCache;
use reasoner_model::tokenizer::TextTokenizer;
use std::collections::VecDeque;

/// What every sequence's token step reads from the engine.
pub(crate) struct StepContext<'a> {
    pub tok: &'a TextTokenizer,
    pub eos_ids: &'a [u32],
    /// The tokens that close a thinking block whose budget is spent ("\n</think>\n\n"); the
    /// first `close_counted` of them are still thinking ("\n</think>").
    pub close_think: &'a [u32],
    pub close_counted: usize,
}

pub(crate) struct Sequence {
    pub id: RequestId,
    pub cache: SequenceCache,
    /// Prompt and every token so far; `history[..fed]` is in the cache.
    pub history: Vec<u32>,
    pub prompt_len: usize,
    pub fed: usize,
    /// KV-cache bytes held against the engine's budget while the request runs.
    pub reserved: usize,
    pub cached_tokens: usize,
    pub finished: bool,
    logits: Vec<f32>,
    sampler: Sampler,
    decoder: IncrementalDecoder,
    stop: StopMatcher,
    /// `None` for raw requests: all text is answer.
    parser: Option<ReasoningParser>,
    out: Completion,
    text: String,
    forced: VecDeque<u32>,
    thinking_budget: Option<usize>,
    budget_closed: bool,
    ignore_eos: bool,
    logprobs: Option<usize>,
    max_tokens: usize,
}

impl Sequence {
    /// `max_tokens` is the request's limit already cut to what the context leaves.
    pub fn new(id: RequestId, r: Request, cache: SequenceCache, max_tokens: usize, reserved: usize) -> Self {
        let prompt_len = r.prompt_ids.len();
        Self {
            id,
            cache,
            prompt_len,
            fed: 0,
            reserved,
            cached_tokens: 0,
            finished: false,
            logits: Vec::new(),
            sampler: Sampler::new(r.params.clone()),
            decoder: IncrementalDecoder::default(),
            stop: StopMatcher::new(r.stop),
            parser: (!r.raw).then(|| ReasoningParser::new(r.think_open)),
            out: Completion {
                reasoning: String::new(),
                content: String::new(),
                token_ids: Vec::new(),
                prompt_tokens: prompt_len,
                completion_tokens: 0,
                reasoning_tokens: 0,
                finish_reason: String::new(),
            },
            text: String::new(),
            forced: VecDeque::new(),
            thinking_budget: r.thinking_budget,
            budget_closed: false,
            ignore_eos: r.ignore_eos,
            logprobs: r.logprobs,
            max_tokens,
            history: r.prompt_ids,
        }
    }

    /// Tokens not yet in the cache: the rest of the prompt, or the last sampled token.
    pub fn pending(&self) -> usize {
        self.history.len() - self.fed
    }

    pub fn params(&self) -> &crate::sampler::SamplingParams {
        &self.sampler.params
    }

    pub fn in_prefill(&self) -> bool {
        self.fed < self.prompt_len
    }

    pub fn into_output(self) -> (Completion, String, usize) {
        (self.out, self.text, self.cached_tokens)
    }

    /// The model scored the position after the whole history: pick the next token.
    pub fn on_logits(&mut self, logits: &Tensor, cx: &StepContext<'_>, events: &mut Vec<Event>) -> Result<()> {
        let thinking = self.parser.as_ref().is_some_and(|p| p.in_thinking());
        if let Some(budget) = self.thinking_budget
            && thinking
            && !self.budget_closed
            && self.out.reasoning_tokens + cx.close_counted >= budget
        {
            self.forced.extend(cx.close_think.iter().copied());
            self.budget_closed = true;
        }
        let (id, logprob) = match self.forced.pop_front() {
            Some(id) => (id, None),
            None => {
                copy_row(logits, &mut self.logits)?;
                let lp = self.logprobs.map(|k| Logprobs::of(&self.logits, k));
                if self.ignore_eos {
                    for &e in cx.eos_ids {
                        if let Some(l) = self.logits.get_mut(e as usize) {
                            *l = f32::NEG_INFINITY;
                        }
                    }
                }
                let id = self.sampler.sample(&mut self.logits, &self.history);
                (id, lp.map(|l| l.for_token(id)))
            }
        };
        self.push_token(id, logprob, thinking, cx, events)
    }

    /// A token chosen elsewhere (the speculative decoder's): route it like a sampled one.
    pub fn accept_token(&mut self, id: u32, cx: &StepContext<'_>, events: &mut Vec<Event>) -> Result<()> {
        let thinking = self.parser.as_ref().is_some_and(|p| p.in_thinking());
        self.push_token(id, None, thinking, cx, events)
    }

    fn push_token(
        &mut self,
        id: u32,
        logprob: Option<TokenLogprob>,
        thinking: bool,
        cx: &StepContext<'_>,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        if !self.ignore_eos && cx.eos_ids.contains(&id) {
            self.finish("stop", events);
            return Ok(());
        }
        self.history.push(id);
        self.out.token_ids.push(id);
        self.out.completion_tokens += 1;
        events.push(Event::Token { id: self.id, token: id, logprob });
        let piece = self.decoder.push(cx.tok, id)?;
        let (piece, hit_stop) = self.stop.push(&piece);
        self.route(&piece, events);
        if thinking || self.parser.as_ref().is_some_and(|p| p.in_thinking()) {
            self.out.reasoning_tokens += 1;
        }
        if hit_stop {
            self.finish("stop", events);
        } else if self.out.completion_tokens >= self.max_tokens {
            self.finish("length", events);
        }
        Ok(())
    }

    fn route(&mut self, piece: &str, events: &mut Vec<Event>) {
        self.text.push_str(piece);
        let segs = match &mut self.parser {
            Some(p) => p.push(piece),
            None if piece.is_empty() => Vec::new(),
            None => vec![Segment::Content(piece.to_string())],
        };
        self.emit(segs, events);
    }

    fn emit(&mut self, segs: Vec<Segment>, events: &mut Vec<Event>) {
        for seg in segs {
            match &seg {
                Segment::Reasoning(t) => self.out.reasoning.push_str(t),
                Segment::Content(t) => self.out.content.push_str(t),
            }
            events.push(Event::Segment { id: self.id, segment: seg });
        }
    }

    fn finish(&mut self, reason: &str, events: &mut Vec<Event>) {
        // After a stop string the matcher holds nothing; after EOS or the length limit it
        // releases what it was holding back.
        let rest = self.stop.finish();
        self.route(&rest, events);
        if let Some(p) = &mut self.parser {
            let segs = p.finish();
            self.emit(segs, events);
        }
        self.out.finish_reason = reason.to_string();
        self.finished = true;
    }
}

/// Log-softmax of a raw logits row: the normaliser and the top alternatives, computed before
/// sampling changes the row in place.
struct Logprobs {
    raw: Vec<f32>,
    lse: f32,
    top: Vec<(u32, f32)>,
}

impl Logprobs {
    fn of(row: &[f32], k: usize) -> Self {
        let max = row.iter().copied().filter(|x| x.is_finite()).fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().filter(|x| x.is_finite()).map(|&x| (x - max).exp()).sum();
        let lse = max + sum.ln();
        let mut idx: Vec<(u32, f32)> = row.iter().enumerate().map(|(i, &l)| (i as u32, l - lse)).collect();
        let k = k.min(idx.len());
        if k > 0 && k < idx.len() {
            idx.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        }
        idx.truncate(k);
        idx.sort_by(|a, b| b.1.total_cmp(&a.1));
        Self { raw: row.to_vec(), lse, top: idx }
    }

    fn for_token(self, id: u32) -> TokenLogprob {
        let logprob = self.raw.get(id as usize).map_or(f32::NEG_INFINITY, |l| l - self.lse);
        TokenLogprob { token: id, logprob, top: self.top }
    }
}

/// Copy a (1, vocab) f32 logits tensor into `out`, reusing its allocation.
pub(crate) fn copy_row(t: &Tensor, out: &mut Vec<f32>) -> Result<()> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        return Err(EngineError::LogitsNotOnCpu);
    };
    let n = layout.shape().elem_count();
    let src = &cpu.as_slice::<f32>()?[layout.start_offset()..layout.start_offset() + n];
    out.clear();
    out.extend_from_slice(src);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logprobs_match_a_direct_log_softmax() {
        let row = [1.0f32, 3.0, 2.0, -1.0];
        let z: f32 = row.iter().map(|x| x.exp()).sum();
        let lp = Logprobs::of(&row, 2).for_token(2);
        assert!((lp.logprob - (2.0f32.exp() / z).ln()).abs() < 1e-6);
        assert_eq!(lp.top.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((lp.top[0].1 - (3.0f32.exp() / z).ln()).abs() < 1e-6);
    }
}
