//! DeepSeekMoE: a router picks `num_experts_per_tok` of `n_routed_experts` small SwiGLU experts
//! per token (optionally limited to the best `topk_group` of `n_group` groups), their outputs are
//! summed with the router's weights, and shared experts run on every token.
//! Each active expert runs once per call on the rows routed to it; unselected experts cost nothing.

pub use crate::config::deepseek::{RouterSpec, ScoringFunc, TopkMethod};
use crate::error::Result;
use crate::formats::weights::VarPath;
use crate::layers::mlp::SwiGlu;
use candle_core::{Device, Tensor};

#[derive(Debug, Clone)]
pub struct Router {
    pub spec: RouterSpec,
    pub weight: Tensor, // (n_routed_experts, hidden)
    pub e_score_correction_bias: Option<Vec<f32>>,
}

impl Router {
    pub fn load(vp: &VarPath, hidden: usize, spec: RouterSpec) -> Result<Self> {
        let e = spec.n_routed_experts;
        let weight = vp.get("weight", &[e, hidden])?;
        // noaux_tc needs the bias; checkpoints of the other methods have none.
        let bias = match spec.topk_method {
            TopkMethod::NoAuxTc => Some(vp.get("e_score_correction_bias", &[e])?),
            _ => vp.get_optional("e_score_correction_bias", &[e])?,
        };
        let e_score_correction_bias = bias.map(|b| b.to_vec1::<f32>()).transpose()?;
        Ok(Self { spec, weight, e_score_correction_bias })
    }

    /// For each row of x (n, hidden): the chosen experts and their weights.
    pub fn route_tokens(&self, x: &Tensor) -> candle_core::Result<Vec<Vec<(usize, f32)>>> {
        let logits = x.matmul(&self.weight.t()?)?.to_vec2::<f32>()?; // (n, experts)
        Ok(logits.iter().map(|l| self.select_experts(&self.affinities(l))).collect())
    }

    fn affinities(&self, logits: &[f32]) -> Vec<f32> {
        match self.spec.scoring_func {
            ScoringFunc::Sigmoid => logits.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect(),
            ScoringFunc::Softmax => {
                let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = logits.iter().map(|&z| (z - max).exp()).collect();
                let sum: f32 = e.iter().sum();
                e.iter().map(|v| v / sum).collect()
            }
        }
    }

    /// One token's routing from its affinities s (one per expert).
    pub fn select_experts(&self, s: &[f32]) -> Vec<(usize, f32)> {
        let p = self.spec;
        // The bias (V3) only decides which experts are chosen.
        let choice: Vec<f32> = match &self.e_score_correction_bias {
            Some(b) => s.iter().zip(b).map(|(x, b)| x + b).collect(),
            None => s.to_vec(),
        };
        let per_group = p.n_routed_experts / p.n_group.max(1);
        let kept_groups: Vec<bool> = match p.topk_method {
            TopkMethod::Greedy => vec![true; p.n_group.max(1)],
            method => {
                let group_score = |g: &[f32]| match method {
                    TopkMethod::NoAuxTc => top_k(g, 2.min(g.len())).iter().map(|&i| g[i]).sum(),
                    _ => g.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                };
                let scores: Vec<f32> = choice.chunks(per_group).map(group_score).collect();
                let mut kept = vec![false; scores.len()];
                top_k(&scores, p.topk_group).into_iter().for_each(|g| kept[g] = true);
                kept
            }
        };
        // Experts of dropped groups cannot be chosen.
        let masked: Vec<f32> = choice
            .iter()
            .enumerate()
            .map(|(e, &c)| if kept_groups[e / per_group] { c } else { f32::NEG_INFINITY })
            .collect();
        let chosen = top_k(&masked, p.num_experts_per_tok);
        let mut weights: Vec<f32> = chosen.iter().map(|&e| s[e]).collect();
        if p.norm_topk_prob {
            let sum: f32 = weights.iter().sum::<f32>() + 1e-20;
            weights.iter_mut().for_each(|w| *w /= sum);
        }
        let scale = p.routed_scaling_factor as f32;
        chosen.into_iter().zip(weights).map(|(e, w)| (e, w * scale)).collect()
    }
}

/// Indices of the k largest values, largest first (ties: lower index first).
fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

#[derive(Debug, Clone)]
pub struct Moe {
    pub gate: Router,
    pub experts: Vec<SwiGlu>,
    pub shared_experts: Option<SwiGlu>,
}

impl Moe {
    /// `mlp.gate`, `mlp.experts.{e}.{gate,up,down}_proj`, `mlp.shared_experts` (n_shared
    /// experts fused into one SwiGLU n_shared × moe_intermediate_size wide).
    pub fn load(
        vp: &VarPath,
        hidden: usize,
        moe_intermediate: usize,
        n_shared: usize,
        spec: RouterSpec,
    ) -> Result<Self> {
        let gate = Router::load(&vp.pp("gate"), hidden, spec)?;
        let experts = (0..spec.n_routed_experts)
            .map(|e| SwiGlu::load(&vp.pp("experts").pp(e), hidden, moe_intermediate, false))
            .collect::<Result<Vec<_>>>()?;
        let shared_experts = match n_shared {
            0 => None,
            k => Some(SwiGlu::load(&vp.pp("shared_experts"), hidden, k * moe_intermediate, false)?),
        };
        Ok(Self { gate, experts, shared_experts })
    }

    /// x: (n, hidden) -> (n, hidden): Σ_k w_k · expert_k(x) + shared(x).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let routes = self.gate.route_tokens(x)?;
        // Gather, per expert, the rows routed to it and their weights.
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); self.experts.len()];
        let mut weights: Vec<Vec<f32>> = vec![Vec::new(); self.experts.len()];
        for (token, route) in routes.iter().enumerate() {
            for &(e, w) in route {
                rows[e].push(token as u32);
                weights[e].push(w);
            }
        }
        let mut out = x.zeros_like()?;
        for (e, expert) in self.experts.iter().enumerate() {
            if rows[e].is_empty() {
                continue;
            }
            let m = rows[e].len();
            let idx = Tensor::new(rows[e].as_slice(), &Device::Cpu)?;
            let w = Tensor::from_vec(std::mem::take(&mut weights[e]), (m, 1), &Device::Cpu)?;
            let y = expert.forward(&x.index_select(&idx, 0)?)?.broadcast_mul(&w)?; // (m, hidden)
            out = out.index_add(&idx, &y, 0)?;
        }
        match &self.shared_experts {
            Some(shared) => out + shared.forward(x)?,
            None => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(method: TopkMethod, bias: Option<Vec<f32>>, norm: bool) -> Router {
        let spec = RouterSpec {
            n_routed_experts: 8,
            num_experts_per_tok: 2,
            n_group: 4,
            topk_group: 2,
            scoring_func: ScoringFunc::Sigmoid,
            topk_method: method,
            norm_topk_prob: norm,
            routed_scaling_factor: 2.0,
        };
        let weight = Tensor::zeros((8, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        Router { spec, weight, e_score_correction_bias: bias }
    }

    #[test]
    fn group_limit_excludes_the_best_expert_of_a_weak_group() {
        // groups [0,1] [2,3] [4,5] [6,7]; expert 4 is the best single expert but its group's
        // top-2 sum (0.9 + 0.0) loses to groups 0 (0.8 + 0.7) and 3 (0.6 + 0.6).
        let s = [0.8, 0.7, 0.1, 0.1, 0.9, 0.0, 0.6, 0.6];
        let r = router(TopkMethod::NoAuxTc, Some(vec![0.0; 8]), false);
        let chosen: Vec<usize> = r.select_experts(&s).iter().map(|&(e, _)| e).collect();
        assert_eq!(chosen, vec![0, 1]);
        // Greedy ignores groups.
        let g = router(TopkMethod::Greedy, None, false);
        let chosen: Vec<usize> = g.select_experts(&s).iter().map(|&(e, _)| e).collect();
        assert_eq!(chosen, vec![4, 0]);
    }

    #[test]
    fn bias_steers_choice_but_weights_use_raw_scores() {
        let s = [0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1];
        let bias = vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        let r = router(TopkMethod::NoAuxTc, Some(bias), true);
        let out = r.select_experts(&s);
        assert_eq!(out.iter().map(|&(e, _)| e).collect::<Vec<_>>(), vec![2, 3]);
        // normalized raw scores 0.3/0.5, 0.2/0.5, times the scaling factor 2
        assert!((out[0].1 - 1.2).abs() < 1e-6 && (out[1].1 - 0.8).abs() < 1e-6, "{out:?}");
    }
}
