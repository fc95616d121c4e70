//! AdamW as `torch.optim.AdamW` computes it (decoupled weight decay, bias-corrected moments),
//! the warm-up + cosine learning-rate schedule, global-norm gradient clipping, and gradient
//! accumulation over micro-batches. Moments live in plain f32 vectors, one per parameter, so
//! a step is a pass over memory and the state saves and restores exactly.

use crate::config::OptimSection;
use crate::error::{Result, TrainError};
use crate::policy::Policy;
use candle_core::Tensor;
use candle_core::backprop::GradStore;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Learning rate for the 0-based `step`: linear warm-up to `lr`, then cosine down to `min_lr`
/// at the last step.
pub fn learning_rate(o: &OptimSection, step: usize) -> f64 {
    if step < o.warmup_steps {
        return o.lr * (step + 1) as f64 / o.warmup_steps as f64;
    }
    let span = o.steps.saturating_sub(o.warmup_steps).saturating_sub(1).max(1);
    let progress = ((step - o.warmup_steps) as f64 / span as f64).min(1.0);
    o.min_lr + (o.lr - o.min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Summed gradients of several micro-batches, one f32 vector per parameter (None: no gradient
/// reached it yet).
pub struct Gradients {
    pub grads: Vec<Option<Vec<f32>>>,
}

impl Gradients {
    pub fn new(policy: &Policy) -> Self {
        Self { grads: vec![None; policy.params.len()] }
    }

    /// Add one backward pass's gradients.
    pub fn add(&mut self, policy: &Policy, store: &GradStore) -> Result<()> {
        for (slot, (_, var)) in self.grads.iter_mut().zip(&policy.params) {
            let Some(g) = store.get(var.as_tensor()) else { continue };
            let g: Vec<f32> = g.flatten_all()?.to_vec1()?;
            match slot {
                Some(acc) => acc.iter_mut().zip(&g).for_each(|(a, b)| *a += b),
                None => *slot = Some(g),
            }
        }
        Ok(())
    }

    /// Add another set of summed gradients (a shard's), parameter by parameter.
    pub fn merge(&mut self, other: Gradients) {
        for (slot, g) in self.grads.iter_mut().zip(other.grads) {
            match (slot.as_mut(), g) {
                (Some(acc), Some(g)) => acc.iter_mut().zip(&g).for_each(|(a, b)| *a += b),
                (None, Some(g)) => *slot = Some(g),
                (_, None) => {}
            }
        }
    }

    /// The global L2 norm.
    pub fn norm(&self) -> f64 {
        self.grads.iter().flatten().flat_map(|g| g.iter()).map(|&v| (v as f64) * (v as f64)).sum::<f64>().sqrt()
    }

    /// Scale so the global norm is at most `max_norm` (torch's clip_grad_norm_); returns the
    /// norm before clipping.
    pub fn clip(&mut self, max_norm: f64) -> f64 {
        let norm = self.norm();
        if max_norm > 0.0 {
            let coef = max_norm / (norm + 1e-6);
            if coef < 1.0 {
                let c = coef as f32;
                self.grads.iter_mut().flatten().for_each(|g| g.iter_mut().for_each(|v| *v *= c));
            }
        }
        norm
    }

    pub fn is_finite(&self) -> bool {
        self.grads.iter().flatten().all(|g| g.iter().all(|v| v.is_finite()))
    }
}

pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// Steps taken (bias correction uses it).
    pub t: u64,
    exp_avg: Vec<Vec<f32>>,
    exp_avg_sq: Vec<Vec<f32>>,
}

impl AdamW {
    pub fn new(policy: &Policy, o: &OptimSection) -> Self {
        let zeros: Vec<Vec<f32>> = policy.params.iter().map(|(_, v)| vec![0f32; v.elem_count()]).collect();
        Self {
            beta1: o.beta1,
            beta2: o.beta2,
            eps: o.eps,
            weight_decay: o.weight_decay,
            t: 0,
            exp_avg: zeros.clone(),
            exp_avg_sq: zeros,
        }
    }

    /// One update of every parameter that has a gradient, at learning rate `lr`.
    pub fn step(&mut self, policy: &Policy, grads: &Gradients, lr: f64) -> Result<()> {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2_sqrt = (1.0 - self.beta2.powi(self.t as i32)).sqrt();
        let step_size = (lr / bc1) as f32;
        let (b1, b2, eps) = (self.beta1 as f32, self.beta2 as f32, self.eps as f32);
        let decay = (1.0 - lr * self.weight_decay) as f32;
        let bc2_sqrt = bc2_sqrt as f32;
        // Parameters are independent: one per task on the pool. Per element the arithmetic is
        // torch's, in the same order, so the result does not depend on the thread count.
        policy
            .params
            .par_iter()
            .zip(grads.grads.par_iter())
            .zip(self.exp_avg.par_iter_mut().zip(self.exp_avg_sq.par_iter_mut()))
            .try_for_each(|(((_, var), g), (m, v))| -> Result<()> {
                let Some(g) = g else { return Ok(()) };
                let mut p: Vec<f32> = var.as_tensor().flatten_all()?.to_vec1()?;
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *p *= decay;
                    *m += (g - *m) * (1.0 - b1);
                    *v = *v * b2 + (1.0 - b2) * g * g;
                    let denom = v.sqrt() / bc2_sqrt + eps;
                    *p -= step_size * *m / denom;
                }
                var.set(&Tensor::from_vec(p, var.shape(), var.device())?)?;
                Ok(())
            })
    }

    /// Moments as named tensors (`NAME.exp_avg`, `NAME.exp_avg_sq`) plus the step count.
    pub fn state_tensors(&self, policy: &Policy) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(2 * policy.params.len() + 1);
        for (i, (name, var)) in policy.params.iter().enumerate() {
            out.push((format!("{name}.exp_avg"), Tensor::from_slice(&self.exp_avg[i], var.shape(), var.device())?));
            out.push((
                format!("{name}.exp_avg_sq"),
                Tensor::from_slice(&self.exp_avg_sq[i], var.shape(), var.device())?,
            ));
        }
        // The step count, exact in f32 up to 2^24 steps.
        out.push(("optimizer.step".into(), Tensor::from_slice(&[self.t as f32], 1, &candle_core::Device::Cpu)?));
        Ok(out)
    }

    pub fn load_state_tensors(&mut self, policy: &Policy, state: &BTreeMap<String, Tensor>, file: &Path) -> Result<()> {
        let get = |key: &str, n: usize| -> Result<Vec<f32>> {
            let t = state.get(key).ok_or_else(|| TrainError::Checkpoint {
                path: file.to_path_buf(),
                message: format!("`{key}` is missing"),
            })?;
            let v: Vec<f32> = t.flatten_all()?.to_vec1()?;
            if v.len() != n {
                return Err(TrainError::Checkpoint {
                    path: file.to_path_buf(),
                    message: format!("`{key}` holds {} values, expected {n}", v.len()),
                });
            }
            Ok(v)
        };
        for (i, (name, var)) in policy.params.iter().enumerate() {
            self.exp_avg[i] = get(&format!("{name}.exp_avg"), var.elem_count())?;
            self.exp_avg_sq[i] = get(&format!("{name}.exp_avg_sq"), var.elem_count())?;
        }
        self.t = get("optimizer.step", 1)?[0] as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_follows_the_cosine_to_min_lr() {
        let o = OptimSection { steps: 11, warmup_steps: 2, lr: 1.0, min_lr: 0.1, ..Default::default() };
        assert_eq!(learning_rate(&o, 0), 0.5);
        assert_eq!(learning_rate(&o, 1), 1.0);
        assert!((learning_rate(&o, 2) - 1.0).abs() < 1e-12);
        assert!((learning_rate(&o, 6) - 0.55).abs() < 1e-12, "{}", learning_rate(&o, 6));
        assert!((learning_rate(&o, 10) - 0.1).abs() < 1e-12);
    }
}
