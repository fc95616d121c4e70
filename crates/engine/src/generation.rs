//! Batched generation, the call the CLI and the trainer make: all requests go into a step
//! engine together and it is stepped until every one is done. Every sequence has its own cache,
//! sampler, detokenizer, stop matcher and reasoning parser; each decode step runs all unfinished
//! sequences through the model in one forward call, so the weights are read once per step.

use crate::error::{EngineError, Result};
use crate::reasoning::Segment;
use crate::request::{Event, Request};
use crate::sampler::SamplingParams;
use crate::scheduler::{EngineConfig, StepEngine};
use reasoner_model::{LoadedModel, PREFILL_CHUNK};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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

pub struct Engine<'m> {
    pub model: &'m LoadedModel,
    pub eos_ids: Vec<u32>,
    /// When set (e.g. by Ctrl-C in `chat`), every unfinished request stops before the next
    /// step with reason "cancelled", keeping what it wrote so far.
    pub cancel: Option<Arc<AtomicBool>>,
    /// MTP speculative decoding (the model must have the module; the engine refuses otherwise).
    pub speculative: bool,
}

impl<'m> Engine<'m> {
    pub fn new(model: &'m LoadedModel) -> Self {
        Self { eos_ids: model.eos_ids(), model, cancel: None, speculative: false }
    }

    /// Generate for all requests together. `on_segment(i, seg)` streams request i's text.
    /// Every prompt is prefilled in the first steps (512 tokens of each per step), then all
    /// decode together, as one fixed batch.
    pub fn generate(
        &self,
        requests: &[GenerationRequest],
        on_segment: impl FnMut(usize, &Segment),
    ) -> Result<(Vec<Completion>, GenerationStats)> {
        let requests: Vec<Request> = requests.iter().cloned().map(Request::from).collect();
        self.generate_requests(&requests, on_segment)
    }

    /// `generate` for step-engine requests, with their extra options (a thinking budget, as
    /// `--thinking-budget` in `chat` and `generate` would pass it; `ignore_eos`; raw text).
    pub fn generate_requests(
        &self,
        requests: &[Request],
        mut on_segment: impl FnMut(usize, &Segment),
    ) -> Result<(Vec<Completion>, GenerationStats)> {
        let cfg = EngineConfig {
            max_batch: requests.len().max(1),
            prefill_chunk: PREFILL_CHUNK,
            prefill_tokens_per_step: usize::MAX,
            kv_budget_bytes: None,
            prefix_cache_bytes: 0,
            speculative: self.speculative,
        };
        let mut engine = StepEngine::new(self.model, cfg)?;
        let ids = requests.iter().map(|r| engine.add_request(r.clone())).collect::<Result<Vec<_>>>()?;
        // Ids are handed out in order from 0, so a request's id is its index.
        debug_assert!(ids.iter().enumerate().all(|(i, &id)| id == i as u64));
        let mut done: Vec<Option<Completion>> = vec![None; requests.len()];
        // What each request wrote so far, for the ones a cancel stops.
        let mut partial: Vec<Completion> = requests
            .iter()
            .map(|r| Completion {
                reasoning: String::new(),
                content: String::new(),
                token_ids: Vec::new(),
                prompt_tokens: r.prompt_ids.len(),
                completion_tokens: 0,
                reasoning_tokens: 0,
                finish_reason: "cancelled".into(),
            })
            .collect();
        while engine.has_work() {
            if self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                for (i, slot) in done.iter_mut().enumerate() {
                    if slot.is_none() {
                        engine.cancel(i as u64);
                        *slot = Some(partial[i].clone());
                    }
                }
                break;
            }
            for ev in engine.step()? {
                match ev {
                    Event::Segment { id, segment } => {
                        let p = &mut partial[id as usize];
                        match &segment {
                            Segment::Reasoning(t) => p.reasoning.push_str(t),
                            Segment::Content(t) => p.content.push_str(t),
                        }
                        on_segment(id as usize, &segment)
                    }
                    Event::Finished { id, output } => done[id as usize] = Some(output.completion),
                    Event::Token { id, token, .. } => {
                        let p = &mut partial[id as usize];
                        p.token_ids.push(token);
                        p.completion_tokens += 1;
                    }
                }
            }
        }
        let stats = engine.stats().clone();
        let done = done
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.ok_or(EngineError::UnknownRequest(i as u64)))
            .collect::<Result<Vec<_>>>()?;
        Ok((done, stats))
    }
}
