//! The quantities training differentiates: per-token log-probabilities of given tokens under
//! the model, the masked next-token loss, and GRPO's clipped policy objective with the k3 KL
//! estimate against a reference.

use crate::config::LossType;
use crate::error::Result;
use candle_core::{D, Tensor};
use reasoner_model::{CausalLm, LogitsFor, SeqInput};

/// log p(ids[i+1] | ids[..=i]) for every sequence, flattened into one (Σ(len−1),) tensor in
/// sequence order; tracked by autograd when the model's weights are.
pub fn next_token_logprobs(model: &dyn CausalLm, seqs: &[&[u32]]) -> Result<Tensor> {
    let mut inputs: Vec<SeqInput> = seqs.iter().map(|s| SeqInput { tokens: &s[..s.len() - 1], cache: None }).collect();
    let logits = model.forward(&mut inputs, LogitsFor::All)?;
    let logits = Tensor::cat(&logits, 0)?; // (N, vocab)
    // log-softmax; the max is a constant shift, so it needs no gradient.
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let shifted = logits.broadcast_sub(&max)?;
    let lse = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let logp = shifted.broadcast_sub(&lse)?;
    let targets: Vec<u32> = seqs.iter().flat_map(|s| s[1..].iter().copied()).collect();
    let n = targets.len();
    let idx = Tensor::from_vec(targets, (n, 1), logp.device())?;
    Ok(logp.gather(&idx, 1)?.squeeze(1)?)
}

/// −Σ mask·logp / `denom`: the next-token loss over the masked tokens, normalised by the
/// step's whole token count so that micro-batches add up to one batch's mean.
pub fn masked_nll(logp: &Tensor, mask: &[f32], denom: f32) -> Result<Tensor> {
    let m = Tensor::from_slice(mask, mask.len(), logp.device())?;
    Ok(((logp * m)?.sum_all()? * (-1.0 / denom as f64))?)
}

/// One completion's share of a GRPO batch.
pub struct PolicyTokens<'a> {
    /// Current log-probs of the completion tokens (tracked).
    pub logp: Tensor,
    /// Log-probs when the rollouts were made.
    pub old_logp: &'a [f32],
    /// Reference model's log-probs (empty when β = 0).
    pub ref_logp: &'a [f32],
    pub advantage: f32,
}

pub struct GrpoTerms {
    pub loss: Tensor,
    /// Σ over tokens, for logging: KL, clipped tokens, tokens.
    pub kl_sum: f64,
    pub clipped: usize,
    pub tokens: usize,
}

/// The objective's settings and the whole optimizer step's counts (so micro-batches add up to
/// the full batch's loss); `max_completion_tokens` is Dr. GRPO's constant.
#[derive(Debug, Clone, Copy)]
pub struct GrpoObjective {
    pub eps_low: f64,
    pub eps_high: f64,
    pub beta: f64,
    pub loss_type: LossType,
    pub batch_completions: usize,
    pub batch_tokens: usize,
    pub max_completion_tokens: usize,
}

/// −min(ρA, clip(ρ, 1−ε, 1+ε_high)A) + β·KL₃ per token, aggregated as `loss_type` says.
pub fn grpo_loss(items: &[PolicyTokens<'_>], obj: &GrpoObjective) -> Result<GrpoTerms> {
    let GrpoObjective { eps_low, eps_high, beta, loss_type, batch_completions, batch_tokens, max_completion_tokens } =
        *obj;
    let mut total: Option<Tensor> = None;
    let (mut kl_sum, mut clipped, mut tokens) = (0f64, 0usize, 0usize);
    for it in items {
        let n = it.old_logp.len();
        if n == 0 {
            continue;
        }
        let dev = it.logp.device();
        let old = Tensor::from_slice(it.old_logp, n, dev)?;
        let ratio = (&it.logp - &old)?.exp()?;
        let a = it.advantage as f64;
        let unclipped = (&ratio * a)?;
        let clipped_ratio = ratio.clamp(1.0 - eps_low, 1.0 + eps_high)?;
        let clipped_term = (&clipped_ratio * a)?;
        let mut per_token = unclipped.minimum(&clipped_term)?.neg()?;
        let r: Vec<f32> = ratio.to_vec1()?;
        clipped += r
            .iter()
            .filter(|&&x| (a > 0.0 && x as f64 > 1.0 + eps_high) || (a < 0.0 && (x as f64) < 1.0 - eps_low))
            .count();
        if beta > 0.0 && !it.ref_logp.is_empty() {
            // k3: exp(ref − logp) − (ref − logp) − 1, unbiased and ≥ 0.
            let d = (Tensor::from_slice(it.ref_logp, n, dev)? - &it.logp)?;
            let kl = ((d.exp()? - &d)? - 1.0)?;
            kl_sum += kl.sum_all()?.to_scalar::<f32>()? as f64;
            per_token = (per_token + (kl * beta)?)?;
        }
        tokens += n;
        let term = match loss_type {
            LossType::Grpo => (per_token.sum_all()? / (n as f64 * batch_completions as f64))?,
            LossType::DrGrpo => (per_token.sum_all()? / (batch_completions as f64 * max_completion_tokens as f64))?,
            LossType::Dapo => (per_token.sum_all()? / batch_tokens.max(1) as f64)?,
        };
        total = Some(match total {
            Some(t) => (t + term)?,
            None => term,
        });
    }
    let loss = match total {
        Some(t) => t,
        None => Tensor::zeros((), candle_core::DType::F32, &candle_core::Device::Cpu)?,
    };
    Ok(GrpoTerms { loss, kl_sum, clipped, tokens })
}
