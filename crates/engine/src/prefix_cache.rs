//! Prefix caching: the KV cache of prompts already computed, kept under a byte budget (least
//! recently used out first), so a repeated system prompt or the earlier turns of a conversation
//! are copied instead of recomputed. Entries are deep copies: a live sequence never shares
//! buffers with an entry (the cache writes its buffers in place).

use crate::error::Result;
use candle_core::Tensor;
use reasoner_model::SequenceCache;
use reasoner_model::layers::kv_cache::LayerCache;

struct Entry {
    tokens: Vec<u32>,
    cache: SequenceCache,
    bytes: usize,
    last_used: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PrefixStats {
    pub lookups: u64,
    pub hits: u64,
    /// Prompt tokens served from the cache instead of computed.
    pub hit_tokens: u64,
    pub bytes: usize,
    pub entries: usize,
}

pub struct PrefixCache {
    entries: Vec<Entry>,
    budget: usize,
    clock: u64,
    stats: PrefixStats,
}

/// A copy of the first `len` positions of `src` with buffers of its own.
pub fn copy_cache(src: &SequenceCache, len: usize) -> Result<SequenceCache> {
    let mut layers = Vec::with_capacity(src.layers.len());
    for l in &src.layers {
        let mut fresh = LayerCache::new(l.dtype());
        let keep = len.min(l.len());
        if keep > 0 {
            // Appending nothing returns views of the rows held, without touching the buffers.
            let views = l.clone().append(&[])?;
            let cut = views.iter().map(|v| v.narrow(1, 0, keep)).collect::<candle_core::Result<Vec<Tensor>>>()?;
            fresh.append(&cut.iter().collect::<Vec<_>>())?;
        }
        layers.push(fresh);
    }
    Ok(SequenceCache { layers })
}

impl PrefixCache {
    pub fn new(budget_bytes: usize) -> Self {
        Self { entries: Vec::new(), budget: budget_bytes, clock: 0, stats: PrefixStats::default() }
    }

    pub fn stats(&self) -> PrefixStats {
        PrefixStats { bytes: self.entries.iter().map(|e| e.bytes).sum(), entries: self.entries.len(), ..self.stats }
    }

    /// The longest cached prefix of `prompt`, leaving at least its last token to compute (its
    /// logits start the generation): a private copy of the cache and its length.
    pub fn lookup(&mut self, prompt: &[u32]) -> Result<Option<(SequenceCache, usize)>> {
        if self.budget == 0 {
            return Ok(None);
        }
        self.stats.lookups += 1;
        let limit = prompt.len().saturating_sub(1);
        let best = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, e.tokens.iter().zip(&prompt[..limit]).take_while(|(a, b)| a == b).count()))
            .max_by_key(|&(_, n)| n);
        let Some((i, n)) = best.filter(|&(_, n)| n > 0) else { return Ok(None) };
        self.clock += 1;
        self.entries[i].last_used = self.clock;
        self.stats.hits += 1;
        self.stats.hit_tokens += n as u64;
        Ok(Some((copy_cache(&self.entries[i].cache, n)?, n)))
    }

    /// Keep the first `tokens.len()` positions of `cache` (a prompt just computed).
    pub fn insert(&mut self, tokens: &[u32], cache: &SequenceCache) -> Result<()> {
        if self.budget == 0 || tokens.is_empty() || self.entries.iter().any(|e| e.tokens.starts_with(tokens)) {
            return Ok(());
        }
        let copy = copy_cache(cache, tokens.len())?;
        let bytes = copy.allocated_bytes();
        if bytes > self.budget {
            return Ok(());
        }
        // An entry that is a prefix of the new one is covered by it.
        self.entries.retain(|e| !tokens.starts_with(&e.tokens));
        while self.entries.iter().map(|e| e.bytes).sum::<usize>() + bytes > self.budget {
            let Some(oldest) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i) else {
                break;
            };
            self.entries.swap_remove(oldest);
        }
        self.clock += 1;
        self.entries.push(Entry { tokens: tokens.to_vec(), cache: copy, bytes, last_used: self.clock });
        Ok(())
    }
}
