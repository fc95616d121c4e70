//! Data parallelism inside one process: a micro-batch split into shards, one per worker of the
//! current rayon pool, each shard's forward and backward on its own thread, and the gradients
//! summed in shard order (so a run is reproducible for a given thread count).
//!
//! Why not leave the threads to the kernels: at tiny-r1's sizes (hidden 192, ~100-token
//! sequences) a matmul is too small to split well, and two threads inside each op ran no faster
//! than one; two shards side by side keep both cores busy for the whole step.

use crate::error::Result;
use crate::optim::Gradients;
use crate::policy::Policy;
use candle_core::Tensor;
use rayon::prelude::*;
use std::time::Instant;

/// What one shard's loss function returns: the loss to differentiate and anything else to log.
pub struct ShardLoss<T> {
    pub loss: Tensor,
    pub extra: T,
}

/// Contiguous shards of `n` items, one per thread (at most `n`), sizes differing by at most one.
pub fn shard_ranges(n: usize, threads: usize) -> Vec<std::ops::Range<usize>> {
    let k = threads.clamp(1, n.max(1));
    (0..k).map(|i| i * n / k..(i + 1) * n / k).filter(|r| !r.is_empty()).collect()
}

/// One shard's results: its loss value, what its loss function returned beside it, and the
/// seconds its forward (loss function) and backward took on its thread.
pub struct ShardResult<T> {
    pub loss: f32,
    pub extra: T,
    pub forward_s: f64,
    pub backward_s: f64,
}

/// Runs `loss_of` on each shard of `items` in parallel, differentiates each loss, and returns the
/// summed gradients with each shard's results in shard order.
pub fn sharded_backward<I: Sync, T: Send>(
    policy: &Policy,
    items: &[I],
    loss_of: impl Fn(&[I]) -> Result<ShardLoss<T>> + Sync,
) -> Result<(Gradients, Vec<ShardResult<T>>)> {
    let ranges = shard_ranges(items.len(), rayon::current_num_threads());
    let shards: Vec<Result<(Gradients, ShardResult<T>)>> = ranges
        .into_par_iter()
        .map(|r| {
            let t = Instant::now();
            let ShardLoss { loss, extra } = loss_of(&items[r])?;
            let value = loss.to_scalar::<f32>()?;
            let forward_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut grads = Gradients::new(policy);
            grads.add(policy, &loss.backward()?)?;
            Ok((grads, ShardResult { loss: value, extra, forward_s, backward_s: t.elapsed().as_secs_f64() }))
        })
        .collect();
    let mut total = Gradients::new(policy);
    let mut parts = Vec::with_capacity(shards.len());
    for shard in shards {
        let (grads, result) = shard?;
        total.merge(grads);
        parts.push(result);
    }
    Ok((total, parts))
}

#[cfg(test)]
mod tests {
    use super::shard_ranges;

    #[test]
    fn shards_cover_every_item_once() {
        for n in 0..20 {
            for t in 1..6 {
                let r = shard_ranges(n, t);
                let flat: Vec<usize> = r.iter().flat_map(|r| r.clone()).collect();
                assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n={n} t={t}");
                assert!(r.len() <= t);
                if n >= t {
                    assert_eq!(r.len(), t);
                }
            }
        }
    }
}
