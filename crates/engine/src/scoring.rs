//! Scoring a token sequence: the log-probability of each token given those before it, from one
//! full forward pass in f32 (the `reasoner logprobs` contract).

use reasoner_model::layers::log_softmax_last_dim;
use reasoner_model::{CausalLm, LogitsFor, ModelError, Result, SeqInput};

/// `out[i]` = ln p(ids[i + 1] | ids[..=i]); length ids.len() - 1.
pub fn token_logprobs(model: &dyn CausalLm, ids: &[u32]) -> Result<Vec<f32>> {
    if ids.len() < 2 {
        return Err(ModelError::Invalid("need at least two tokens to score".into()));
    }
    let logits = model.forward(&mut [SeqInput { tokens: ids, cache: None }], LogitsFor::All)?;
    let logits = logits.into_iter().next().ok_or_else(|| ModelError::Invalid("model returned no logits".into()))?;
    let logp = log_softmax_last_dim(&logits)?.to_vec2::<f32>()?;
    Ok((0..ids.len() - 1).map(|i| logp[i][ids[i + 1] as usize]).collect())
}
