//! Batched generation. Every sequence has its own cache, sampler, detokenizer, stop matcher and
//! reasoning parser; each decode step runs all unfinished sequences through the model in one
//! forward call, so the weights are read once per step for the whole batch.

use crate::detokenize::IncrementalDecoder;
use crate::reasoning::{ReasoningParser, Segment};
use crate::sampler::{Sampler, SamplingParams};
use crate::stop::StopMatcher;
use reasoner_model::{forward_chunked, LoadedModel, LogitsFor, ModelError, Result, SeqInput, SequenceCache, PREFILL_CHUNK};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub prompt_ids: Vec<u32>,
    pub params: SamplingParams,
    pub stop: Vec<String>,
    /// The prompt ends inside `<think>`: what the model writes first is reasoning.
    pub think_open: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Completion {
    pub reasoning: String,
    pub content: String,
    pub token_ids: Vec<u32>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub reasoning_tokens: usize,
    /// "stop" (EOS or a stop string), "length" (max tokens) or "cancelled" (`Engine::cancel`).
    pub finish_reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerationStats {
    pub prefill_tokens: usize,
    pub prefill_secs: f64,
    pub decode_tokens: usize,
    pub decode_secs: f64,
}

struct Active {
    cache: SequenceCache,
    /// This sequence's logits row, reused every step (no per-token allocation of a vocab row).
    logits: Vec<f32>,
    sampler: Sampler,
    decoder: IncrementalDecoder,
    stop: StopMatcher,
    parser: ReasoningParser,
    history: Vec<u32>,
    out: Completion,
    finished: bool,
}

pub struct Engine<'m> {
    pub model: &'m LoadedModel,
    pub eos_ids: Vec<u32>,
    /// When set (e.g. by Ctrl-C in `chat`), unfinished sequences end before the next decode
    /// step with reason "cancelled", keeping what they wrote so far.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl<'m> Engine<'m> {
    pub fn new(model: &'m LoadedModel) -> Self {
        Self { eos_ids: model.eos_ids(), model, cancel: None }
    }

    /// Generate for all requests together. `on_segment(i, seg)` streams request i's text.
    pub fn generate(
        &self,
        requests: &[GenerationRequest],
        mut on_segment: impl FnMut(usize, &Segment),
    ) -> Result<(Vec<Completion>, GenerationStats)> {
        let tok = self.model.tokenizer.as_ref().ok_or_else(|| {
            ModelError::Invalid(format!("{}: no tokenizer.json, cannot generate text", self.model.path.display()))
        })?;
        let lm = &self.model.model;
        let mut stats = GenerationStats::default();
        let mut seqs: Vec<Active> = requests
            .iter()
            .map(|r| {
                r.params.validate().map_err(ModelError::Invalid)?;
                if r.prompt_ids.is_empty() {
                    return Err(ModelError::Invalid("empty prompt".into()));
                }
                Ok(Active {
                    cache: self.model.new_cache(),
                    logits: Vec::new(),
                    sampler: Sampler::new(r.params.clone()),
                    decoder: IncrementalDecoder::default(),
                    stop: StopMatcher::new(r.stop.clone()),
                    parser: ReasoningParser::new(r.think_open),
                    history: r.prompt_ids.clone(),
                    out: Completion {
                        reasoning: String::new(),
                        content: String::new(),
                        token_ids: Vec::new(),
                        prompt_tokens: r.prompt_ids.len(),
                        completion_tokens: 0,
                        reasoning_tokens: 0,
                        finish_reason: String::new(),
                    },
                    finished: false,
                })
            })
            .collect::<Result<_>>()?;

        // Prefill: the prompts together, PREFILL_CHUNK tokens of each per pass.
        let t0 = Instant::now();
        let logits = {
            let mut inputs: Vec<SeqInput> = seqs
                .iter_mut()
                .zip(requests)
                .map(|(s, r)| SeqInput { tokens: &r.prompt_ids, cache: Some(&mut s.cache) })
                .collect();
            forward_chunked(lm.as_ref(), &mut inputs, PREFILL_CHUNK)?
        };
        stats.prefill_tokens = requests.iter().map(|r| r.prompt_ids.len()).sum();
        stats.prefill_secs = t0.elapsed().as_secs_f64();
        for (i, l) in logits.into_iter().enumerate() {
            self.step(i, &mut seqs[i], l, tok, &mut on_segment)?;
        }

        // Decode: one token per unfinished sequence per forward call.
        let t1 = Instant::now();
        loop {
            let active: Vec<usize> = (0..seqs.len()).filter(|&i| !seqs[i].finished).collect();
            if active.is_empty() {
                break;
            }
            if self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                for &i in &active {
                    finish(i, &mut seqs[i], "cancelled", &mut on_segment)?;
                }
                break;
            }
            let last: Vec<[u32; 1]> = active.iter().map(|&i| [*seqs[i].history.last().unwrap_or(&0)]).collect();
            let logits = {
                let mut inputs: Vec<SeqInput> = Vec::with_capacity(active.len());
                let mut rest: &mut [Active] = &mut seqs;
                let mut offset = 0;
                for (k, &i) in active.iter().enumerate() {
                    let (_, tail) = rest.split_at_mut(i - offset);
                    let (cur, tail) = tail.split_at_mut(1);
                    inputs.push(SeqInput { tokens: &last[k], cache: Some(&mut cur[0].cache) });
                    rest = tail;
                    offset = i + 1;
                }
                lm.forward(&mut inputs, LogitsFor::Last)?
            };
            stats.decode_tokens += active.len();
            for (l, &i) in logits.into_iter().zip(&active) {
                self.step(i, &mut seqs[i], l, tok, &mut on_segment)?;
            }
        }
        stats.decode_secs = t1.elapsed().as_secs_f64();
        Ok((seqs.into_iter().map(|s| s.out).collect(), stats))
    }

    /// Sample one token for a sequence and route its text.
    fn step(
        &self,
        i: usize,
        s: &mut Active,
        logits: candle_core::Tensor,
        tok: &reasoner_model::tokenizer::TextTokenizer,
        on_segment: &mut impl FnMut(usize, &Segment),
    ) -> Result<()> {
        copy_row(&logits, &mut s.logits)?;
        let id = s.sampler.sample(&mut s.logits, &s.history);
        if self.eos_ids.contains(&id) {
            return finish(i, s, "stop", on_segment);
        }
        s.history.push(id);
        s.out.token_ids.push(id);
        s.out.completion_tokens += 1;
        let was_thinking = s.parser.in_thinking();
        let text = s.decoder.push(tok, id)?;
        let (text, hit_stop) = s.stop.push(&text);
        for seg in s.parser.push(&text) {
            emit(i, s, seg, on_segment);
        }
        if was_thinking || s.parser.in_thinking() {
            s.out.reasoning_tokens += 1;
        }
        if hit_stop {
            return finish(i, s, "stop", on_segment);
        }
        if s.out.completion_tokens >= s.sampler.params.max_tokens {
            return finish(i, s, "length", on_segment);
        }
        Ok(())
    }
}

fn emit(i: usize, s: &mut Active, seg: Segment, on_segment: &mut impl FnMut(usize, &Segment)) {
    match &seg {
        Segment::Reasoning(t) => s.out.reasoning.push_str(t),
        Segment::Content(t) => s.out.content.push_str(t),
    }
    on_segment(i, &seg);
}

fn finish(i: usize, s: &mut Active, reason: &str, on_segment: &mut impl FnMut(usize, &Segment)) -> Result<()> {
    let rest = s.stop.finish();
    // After a stop string the matcher holds nothing; after EOS or the length limit it releases
    // what it was holding back.
    let mut segs = s.parser.push(&rest);
    segs.extend(s.parser.finish());
    for seg in segs {
        emit(i, s, seg, on_segment);
    }
    s.out.finish_reason = reason.to_string();
    s.finished = true;
    Ok(())
}

/// Copy a (1, vocab) f32 logits tensor into `out`, reusing its allocation.
fn copy_row(t: &candle_core::Tensor, out: &mut Vec<f32>) -> Result<()> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        return Err(ModelError::Invalid("logits are not on the CPU".into()));
    };
    let n = layout.shape().elem_count();
    let src = &cpu.as_slice::<f32>()?[layout.start_offset()..layout.start_offset() + n];
    out.clear();
    out.extend_from_slice(src);
    Ok(())
}
