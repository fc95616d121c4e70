//! The step-driven engine: `add_request` queues a request, `step` runs one forward call over
//! every running sequence (one decode token each, plus prompt pieces of newcomers, 512 tokens at
//! most per piece) and returns what it produced, `cancel` drops a request. Requests join the
//! batch between steps and leave when done (continuous batching), under a KV-cache byte budget,
//! with prompts' caches kept for reuse (prefix caching).

use crate::error::{EngineError, Result};
use crate::generation::GenerationStats;
use crate::prefix_cache::{PrefixCache, PrefixStats};
use crate::request::{Event, Finished, Request, RequestId};
use crate::sequence::{Sequence, StepContext};
use crate::speculative::SpeculativeDecoder;
use candle_core::Tensor;
use rayon::prelude::*;
use reasoner_model::{KvDtype, LoadedModel, LogitsFor, PREFILL_CHUNK, SeqInput};
use std::collections::HashMap;
use std::collections::VecDeque;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Sequences decoded together; more wait in the queue.
    pub max_batch: usize,
    /// Prompt tokens of one sequence per forward call.
    pub prefill_chunk: usize,
    /// Prompt tokens of all sequences together per forward call, so that a long newcomer delays
    /// the running streams by one piece per step, not by its whole prompt.
    pub prefill_tokens_per_step: usize,
    /// KV-cache bytes that running requests may reserve (prompt + max new tokens each); `None`:
    /// no limit. A request larger than the whole budget is refused; others wait for room.
    pub kv_budget_bytes: Option<usize>,
    /// Bytes kept for the prefix cache; 0 turns it off.
    pub prefix_cache_bytes: usize,
    /// Decode with the model's MTP module as a one-token draft (DeepSeek-V3 checkpoints that
    /// have one): each sequence steps on its own, one or two tokens per main forward.
    pub speculative: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_batch: 16,
            prefill_chunk: PREFILL_CHUNK,
            prefill_tokens_per_step: PREFILL_CHUNK,
            kv_budget_bytes: None,
            prefix_cache_bytes: 0,
            speculative: false,
        }
    }
}

/// A snapshot for metrics and health checks.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineStatus {
    pub running: usize,
    pub waiting: usize,
    pub kv_reserved_bytes: usize,
    pub kv_used_bytes: usize,
    pub kv_budget_bytes: Option<usize>,
    pub prefix: PrefixStats,
}

pub struct StepEngine<'m> {
    model: &'m LoadedModel,
    cfg: EngineConfig,
    eos_ids: Vec<u32>,
    close_think: Vec<u32>,
    close_counted: usize,
    vocab_size: usize,
    max_positions: usize,
    kv_bytes_per_token: usize,
    waiting: VecDeque<(RequestId, Request)>,
    running: Vec<Sequence>,
    next_id: RequestId,
    kv_reserved: usize,
    prefix: PrefixCache,
    stats: GenerationStats,
    /// Speculative mode: each running request's decoder (it keeps its own caches).
    drafts: HashMap<RequestId, SpeculativeDecoder<'m>>,
}

impl<'m> StepEngine<'m> {
    pub fn new(model: &'m LoadedModel, cfg: EngineConfig) -> Result<Self> {
        let tok = model.tokenizer.as_ref().ok_or_else(|| EngineError::NoTokenizer { path: model.path.clone() })?;
        // R1 ends its thinking with "\n</think>\n\n"; a spent budget closes it the same way.
        let close_think = tok.encode("\n</think>\n\n", false)?;
        let close_counted = tok.encode("\n</think>", false)?.len().min(close_think.len());
        if cfg.speculative && model.model.mtp_draft().is_none() {
            return Err(EngineError::NoMtp { path: model.path.clone() });
        }
        let info = model.model.info();
        let f32_bytes = info.kv_cache_bytes_per_token as usize;
        // f16 halves the cache where the architecture stores it so (MLA's latent stays f32).
        let probe = model.new_cache();
        let kv_bytes_per_token =
            if model.kv_dtype == KvDtype::F16 && probe.dtype() == KvDtype::F16 { f32_bytes / 2 } else { f32_bytes };
        Ok(Self {
            eos_ids: model.eos_ids(),
            close_think,
            close_counted,
            vocab_size: info.vocab_size,
            max_positions: info.max_positions,
            kv_bytes_per_token,
            prefix: PrefixCache::new(cfg.prefix_cache_bytes),
            cfg,
            model,
            waiting: VecDeque::new(),
            running: Vec::new(),
            next_id: 0,
            kv_reserved: 0,
            stats: GenerationStats::default(),
            drafts: HashMap::new(),
        })
    }

    pub fn model(&self) -> &'m LoadedModel {
        self.model
    }

    /// Longest prompt + output the model takes.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Check a request and queue it. Everything that could fail inside a step for this request
    /// alone is checked here, so a bad request never reaches the batch.
    pub fn add_request(&mut self, r: Request) -> Result<RequestId> {
        r.params.validate()?;
        if r.prompt_ids.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if let Some(&id) = r.prompt_ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(EngineError::TokenOutOfRange { id, vocab_size: self.vocab_size });
        }
        if r.prompt_ids.len() >= self.max_positions {
            return Err(EngineError::PromptTooLong { tokens: r.prompt_ids.len(), limit: self.max_positions });
        }
        if let Some(budget) = self.cfg.kv_budget_bytes {
            let needed = self.reservation(&r);
            if needed > budget {
                return Err(EngineError::KvBudget { needed, budget });
            }
        }
        if self.cfg.speculative {
            // The draft decoder samples inside itself: nothing can be forced or masked.
            let off = |field: &'static str| EngineError::InvalidParam {
                field,
                message: "not available with speculative decoding".into(),
            };
            if r.thinking_budget.is_some() {
                return Err(off("thinking_budget"));
            }
            if r.ignore_eos {
                return Err(off("ignore_eos"));
            }
            if r.logprobs.is_some() {
                return Err(off("logprobs"));
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.push_back((id, r));
        Ok(id)
    }

    /// Drop a queued or running request; false when it is unknown or already done.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        if let Some(i) = self.waiting.iter().position(|(w, _)| *w == id) {
            self.waiting.remove(i);
            return true;
        }
        if let Some(i) = self.running.iter().position(|s| s.id == id) {
            let s = self.running.remove(i);
            self.kv_reserved -= s.reserved;
            self.drafts.remove(&id);
            return true;
        }
        false
    }

    /// Drop every running request (after a failed step their caches cannot be trusted); returns
    /// their ids so the caller can tell their clients.
    pub fn abort_running(&mut self) -> Vec<RequestId> {
        self.kv_reserved = 0;
        self.drafts.clear();
        self.running.drain(..).map(|s| s.id).collect()
    }

    pub fn has_work(&self) -> bool {
        !self.waiting.is_empty() || !self.running.is_empty()
    }

    pub fn status(&self) -> EngineStatus {
        EngineStatus {
            running: self.running.len(),
            waiting: self.waiting.len(),
            kv_reserved_bytes: self.kv_reserved,
            kv_used_bytes: self.running.iter().map(|s| s.cache.used_bytes()).sum(),
            kv_budget_bytes: self.cfg.kv_budget_bytes,
            prefix: self.prefix.stats(),
        }
    }

    /// Time and tokens of prefill and decode so far.
    pub fn stats(&self) -> &GenerationStats {
        &self.stats
    }

    fn max_new_tokens(&self, r: &Request) -> usize {
        r.params.max_tokens.min(self.max_positions - r.prompt_ids.len())
    }

    fn reservation(&self, r: &Request) -> usize {
        (r.prompt_ids.len() + self.max_new_tokens(r)) * self.kv_bytes_per_token
    }

    /// Move queued requests into the batch while there is room, oldest first.
    fn admit(&mut self) -> Result<()> {
        while self.running.len() < self.cfg.max_batch.max(1) {
            let Some((_, r)) = self.waiting.front() else { break };
            let need = self.reservation(r);
            if self.cfg.kv_budget_bytes.is_some_and(|b| self.kv_reserved + need > b) {
                break;
            }
            let Some((id, r)) = self.waiting.pop_front() else { break };
            let max_new = self.max_new_tokens(&r);
            // Speculative decoders keep caches of their own: no prefix to copy for them.
            let hit = if self.cfg.speculative { None } else { self.prefix.lookup(&r.prompt_ids)? };
            let (cache, cached) = match hit {
                Some((c, n)) => (c, n),
                None => (self.model.new_cache(), 0),
            };
            let mut s = Sequence::new(id, r, cache, max_new, need);
            s.fed = cached;
            s.cached_tokens = cached;
            self.kv_reserved += need;
            self.running.push(s);
        }
        Ok(())
    }

    /// One forward call over the running batch. Returns the text, tokens and completions it
    /// produced, in order per request.
    pub fn step(&mut self) -> Result<Vec<Event>> {
        self.admit()?;
        let mut events = Vec::new();
        if self.running.is_empty() {
            return Ok(events);
        }
        if self.cfg.speculative {
            self.step_speculative(&mut events)?;
            self.retire(&mut events);
            return Ok(events);
        }
        // Who runs this step and with how many tokens: every decoding sequence one, prefilling
        // ones a piece each while the step's prompt allowance lasts (oldest first).
        let mut allowance = self.cfg.prefill_tokens_per_step.max(1);
        let chunk = self.cfg.prefill_chunk.max(1);
        let plan: Vec<(usize, usize)> = self
            .running
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                if !s.in_prefill() {
                    return Some((i, s.pending()));
                }
                let n = s.pending().min(chunk).min(allowance);
                allowance -= n;
                (n > 0).then_some((i, n))
            })
            .collect();
        let prefill_tokens: usize = plan.iter().filter(|&&(i, _)| self.running[i].in_prefill()).map(|&(_, n)| n).sum();
        let t0 = Instant::now();
        let logits = {
            let mut inputs: Vec<SeqInput> = Vec::with_capacity(plan.len());
            let mut p = plan.iter().peekable();
            for (i, s) in self.running.iter_mut().enumerate() {
                if let Some(&&(j, n)) = p.peek()
                    && j == i
                {
                    p.next();
                    inputs.push(SeqInput { tokens: &s.history[s.fed..s.fed + n], cache: Some(&mut s.cache) });
                }
            }
            self.model.model.forward(&mut inputs, LogitsFor::Last)?
        };
        let tok =
            self.model.tokenizer.as_ref().ok_or_else(|| EngineError::NoTokenizer { path: self.model.path.clone() })?;
        let cx = StepContext {
            tok,
            eos_ids: &self.eos_ids,
            close_think: &self.close_think,
            close_counted: self.close_counted,
        };
        let mut decoded = 0;
        // Which sequences sample this step (their whole history is now in the cache).
        let mut ready: Vec<Option<&Tensor>> = vec![None; self.running.len()];
        for (&(i, n), l) in plan.iter().zip(&logits) {
            let s = &mut self.running[i];
            let was_prefill = s.in_prefill();
            s.fed += n;
            if s.pending() > 0 {
                continue; // more of the prompt to come: these logits predict a prompt token
            }
            if was_prefill {
                self.prefix.insert(&s.history[..s.prompt_len], &s.cache)?;
            } else {
                decoded += 1;
            }
            ready[i] = Some(l);
        }
        // Sampling touches a whole vocabulary row per sequence (a sort of the candidates when
        // the distribution is flat): the sequences sample in parallel, each with its own
        // sampler, and their events are kept in batch order.
        let per_seq: Vec<Result<Vec<Event>>> = self
            .running
            .par_iter_mut()
            .zip(ready.par_iter())
            .map(|(s, l)| {
                let mut ev = Vec::new();
                if let Some(l) = l {
                    s.on_logits(l, &cx, &mut ev)?;
                }
                Ok(ev)
            })
            .collect();
        for ev in per_seq {
            events.extend(ev?);
        }
        let dt = t0.elapsed().as_secs_f64();
        if prefill_tokens > 0 {
            self.stats.prefill_tokens += prefill_tokens;
            self.stats.prefill_secs += dt;
        } else {
            self.stats.decode_secs += dt;
        }
        self.stats.decode_tokens += decoded;
        self.retire(&mut events);
        Ok(events)
    }

    /// Each running sequence through its own speculative decoder: the prompt on its first step,
    /// then a drafted and verified token or two per step.
    fn step_speculative(&mut self, events: &mut Vec<Event>) -> Result<()> {
        let tok =
            self.model.tokenizer.as_ref().ok_or_else(|| EngineError::NoTokenizer { path: self.model.path.clone() })?;
        let cx = StepContext {
            tok,
            eos_ids: &self.eos_ids,
            close_think: &self.close_think,
            close_counted: self.close_counted,
        };
        for s in self.running.iter_mut() {
            let t0 = Instant::now();
            let tokens = match self.drafts.get_mut(&s.id) {
                Some(d) => d.step()?.tokens,
                None => {
                    let (d, first) = SpeculativeDecoder::start_chunked(
                        self.model,
                        &s.history[..s.prompt_len],
                        s.params(),
                        self.cfg.prefill_chunk.max(1),
                    )?;
                    self.drafts.insert(s.id, d);
                    s.fed = s.prompt_len;
                    self.stats.prefill_tokens += s.prompt_len;
                    self.stats.prefill_secs += t0.elapsed().as_secs_f64();
                    vec![first]
                }
            };
            for t in tokens {
                if s.finished {
                    break;
                }
                s.accept_token(t, &cx, events)?;
                self.stats.decode_tokens += 1;
            }
            self.stats.decode_secs += t0.elapsed().as_secs_f64();
        }
        Ok(())
    }

    /// Move finished sequences out of the batch and report them.
    fn retire(&mut self, events: &mut Vec<Event>) {
        let mut i = 0;
        while i < self.running.len() {
            if !self.running[i].finished {
                i += 1;
                continue;
            }
            let s = self.running.remove(i);
            self.kv_reserved -= s.reserved;
            self.drafts.remove(&s.id);
            let id = s.id;
            let (completion, text, cached_tokens) = s.into_output();
            events.push(Event::Finished { id, output: Box::new(Finished { completion, text, cached_tokens }) });
        }
    }
}
