//! The narrow interface every architecture offers the engine: run some new tokens of one or
//! more sequences through the model, each with its own cache, and return logits.

use crate::error::{ModelError, Result};
pub use crate::layers::batch::{BatchLayout, SeqRows};
use crate::layers::kv_cache::{KvDtype, SequenceCache};
use candle_core::Tensor;
use serde::Serialize;

/// New tokens of one sequence. Without a cache the tokens are the whole sequence (training,
/// scoring); with one they continue what the cache holds.
pub struct SeqInput<'a> {
    pub tokens: &'a [u32],
    pub cache: Option<&'a mut SequenceCache>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsFor {
    /// Only the last new token of each sequence (generation).
    Last,
    /// Every new token (scoring, training).
    All,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub architecture: String,
    pub parameters: u64,
    pub layers: usize,
    pub hidden_size: usize,
    pub vocab_size: usize,
    pub max_positions: usize,
    /// Bytes an f32 KV cache holds per token (all layers); half that in f16.
    pub kv_cache_bytes_per_token: u64,
    /// What a plain multi-head K/V cache of the same model would need per token, for comparison.
    pub mha_kv_cache_bytes_per_token: u64,
    /// Numbers cached per token per layer.
    pub kv_cache_values_per_token_per_layer: u64,
}

pub trait CausalLm: Send + Sync {
    /// Logits per sequence: (1, vocab) for `Last`, (tokens, vocab) for `All`.
    fn forward(&self, seqs: &mut [SeqInput<'_>], which: LogitsFor) -> Result<Vec<Tensor>>;
    /// An f32 cache for one sequence.
    fn new_cache(&self) -> SequenceCache;
    /// A cache that stores keys and values as `dtype` where this architecture's attention reads
    /// it; f32 otherwise (DeepSeek's MLA latent cache).
    fn new_cache_with(&self, dtype: KvDtype) -> SequenceCache {
        let _ = dtype;
        self.new_cache()
    }
    /// What the model is: its shape and what its KV cache costs per token.
    fn info(&self) -> ModelInfo;
    /// Weight bytes one decode step reads, as held in memory (packed or f32), leaving out the
    /// embedding table of which only one row is read: what `reasoner bench` sets against the
    /// machine's read bandwidth and `reasoner info` reports. For a mixture of experts, the routed
    /// experts a token uses (`num_experts_per_tok` of average size), not all of them.
    fn decode_weight_bytes(&self) -> Option<u64> {
        None
    }
    /// The model's built-in draft for speculative decoding (DeepSeek-V3's MTP module), when the
    /// checkpoint has one.
    fn mtp_draft(&self) -> Option<&dyn MtpDraft> {
        None
    }
}

/// A multi-token-prediction module used as a one-token draft: it reads the main model's final
/// hidden state at position i and the token at i+1, and predicts the token at i+2. Its cache
/// has one entry per main position i whose next token is known.
pub trait MtpDraft: Send + Sync {
    /// The main model's forward: logits of the rows `which` asks for, and the final hidden
    /// states (after the final norm) of every new row, (len, hidden) per sequence.
    fn forward_with_all_hidden(
        &self,
        seqs: &mut [SeqInput<'_>],
        which: LogitsFor,
    ) -> Result<(Vec<Tensor>, Vec<Tensor>)>;
    /// An empty cache for the draft module.
    fn new_draft_cache(&self) -> SequenceCache;
    /// Draft logits for one sequence. `hidden` (len, hidden) holds the main model's states of
    /// positions p .. p+len, `next_tokens` the tokens t[p+1 ..= p+len], and `cache` positions
    /// 0 .. p; returns the logits of t[p+2 ..= p+len+1], (1, vocab) for `Last` or (len, vocab).
    fn draft_logits(
        &self,
        hidden: &Tensor,
        next_tokens: &[u32],
        cache: &mut SequenceCache,
        which: LogitsFor,
    ) -> Result<Tensor>;
}

/// Prompt tokens per forward call when prompts go through the cache (llama.cpp's default
/// micro-batch): a prefill's activations then scale with this, not with the prompt (a 4096-token
/// prompt on the 1.5B shape held ~1.5 GB of them in one pass).
pub const PREFILL_CHUNK: usize = 512;

/// `forward` with `LogitsFor::Last` for sequences that each have a cache, their new tokens fed
/// `chunk` at a time (every sequence's next piece in one call). A sequence's logits come from
/// its last piece; attention reads the earlier pieces from the cache, so the result is the
/// one-pass result.
pub fn forward_chunked(lm: &dyn CausalLm, seqs: &mut [SeqInput<'_>], chunk: usize) -> Result<Vec<Tensor>> {
    let chunk = chunk.max(1);
    if seqs.iter().any(|s| s.cache.is_none() || s.tokens.is_empty()) {
        return Err(ModelError::Invalid("chunked prefill needs a cache and at least one token per sequence".into()));
    }
    let rounds = seqs.iter().map(|s| s.tokens.len().div_ceil(chunk)).max().unwrap_or(0);
    let mut last: Vec<Option<Tensor>> = vec![None; seqs.len()];
    for r in 0..rounds {
        let start = r * chunk;
        let (active, mut pieces): (Vec<usize>, Vec<SeqInput<'_>>) = seqs
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| s.tokens.len() > start)
            .map(|(i, s)| {
                (
                    i,
                    SeqInput {
                        tokens: &s.tokens[start..s.tokens.len().min(start + chunk)],
                        cache: s.cache.as_deref_mut(),
                    },
                )
            })
            .unzip();
        for (i, logits) in active.into_iter().zip(lm.forward(&mut pieces, LogitsFor::Last)?) {
            last[i] = Some(logits);
        }
    }
    last.into_iter()
        .map(|l| l.ok_or_else(|| ModelError::Invalid("chunked prefill produced no logits".into())))
        .collect()
}

/// Refuse ids past the embedding table before they reach an index op.
pub fn check_token_ids(seqs: &[SeqInput<'_>], vocab_size: usize) -> Result<()> {
    for s in seqs {
        if let Some(&id) = s.tokens.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(ModelError::TokenOutOfRange { id, vocab_size });
        }
        if s.tokens.is_empty() {
            return Err(ModelError::Invalid("a sequence with no tokens was passed to the model".into()));
        }
    }
    Ok(())
}

impl BatchLayout {
    /// The layout of `seqs`, each starting at its cache's position (0 without one).
    pub fn of(seqs: &[SeqInput<'_>]) -> Self {
        let mut layout = Self::default();
        for s in seqs {
            layout.push(s.tokens.len(), s.cache.as_ref().map(|c| c.position()).unwrap_or(0));
        }
        layout
    }

    /// Pick the rows whose logits are wanted: the last row of each sequence, or all its rows.
    pub fn select_rows(&self, x: &Tensor, which: LogitsFor) -> candle_core::Result<Vec<Tensor>> {
        self.seqs
            .iter()
            .map(|s| match which {
                LogitsFor::Last => x.narrow(0, s.row + s.len - 1, 1),
                LogitsFor::All => x.narrow(0, s.row, s.len),
            })
            .collect()
    }
}

/// Scoring a token sequence (the `reasoner logprobs` contract): `out[i]` = ln p(ids[i + 1] |
/// ids[..=i]), length ids.len() - 1, from one full forward pass in f32.
pub fn token_logprobs(model: &dyn CausalLm, ids: &[u32]) -> Result<Vec<f32>> {
    if ids.len() < 2 {
        return Err(ModelError::Invalid("need at least two tokens to score".into()));
    }
    let logits = model.forward(&mut [SeqInput { tokens: ids, cache: None }], LogitsFor::All)?;
    let logits = logits.into_iter().next().ok_or_else(|| ModelError::Invalid("model returned no logits".into()))?;
    let logp = crate::layers::log_softmax_last_dim(&logits)?.to_vec2::<f32>()?;
    Ok((0..ids.len() - 1).map(|i| logp[i][ids[i + 1] as usize]).collect())
}
