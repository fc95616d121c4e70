//! The trainer's gradients and AdamW steps against PyTorch's on the dense fixtures
//! (tests/fixtures/train_golden/, made by tools/golden/make_train_golden.py), and against
//! central finite differences of our own loss.

use candle_core::Tensor;
use reasoner_train::config::OptimSection;
use reasoner_train::loss::{masked_nll, next_token_logprobs};
use reasoner_train::policy::read_f32_safetensors;
use reasoner_train::{AdamW, Gradients, Policy};
use serde_json::Value;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Case {
    seqs: Vec<Vec<u32>>,
    mask: Vec<f32>,
    denom: f32,
    json: Value,
}

fn case(name: &str) -> Case {
    let path = root().join("tests/fixtures/train_golden").join(name).join("case.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let seqs: Vec<Vec<u32>> = serde_json::from_value(json["ids"].clone()).unwrap();
    let masks: Vec<Vec<f32>> = serde_json::from_value(json["masks"].clone()).unwrap();
    let denom = masks.iter().flatten().sum();
    Case { seqs, mask: masks.into_iter().flatten().collect(), denom, json }
}

fn loss_and_grads(policy: &Policy, c: &Case) -> (f32, Gradients) {
    let seqs: Vec<&[u32]> = c.seqs.iter().map(Vec::as_slice).collect();
    let logp = next_token_logprobs(policy.train.model.as_ref(), &seqs).unwrap();
    let loss = masked_nll(&logp, &c.mask, c.denom).unwrap();
    let mut g = Gradients::new(policy);
    g.add(policy, &loss.backward().unwrap()).unwrap();
    (loss.to_scalar().unwrap(), g)
}

fn max_rel(ours: &[f32], theirs: &[f32]) -> f32 {
    let scale = theirs.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max) / scale
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn check_fixture(name: &str) {
    let c = case(name);
    let dir = root().join("tests/fixtures").join(name);
    let policy = Policy::from_checkpoint(&dir).unwrap();
    let golden =
        read_f32_safetensors(&root().join("tests/fixtures/train_golden").join(name).join("grads.safetensors")).unwrap();
    let (loss, grads) = loss_and_grads(&policy, &c);
    let torch_loss = c.json["losses"][0].as_f64().unwrap() as f32;
    assert!((loss - torch_loss).abs() <= 1e-5 * torch_loss.abs(), "{name}: loss {loss} vs torch {torch_loss}");
    assert_eq!(golden.len(), policy.params.len(), "{name}: parameter sets differ");
    let mut worst = (0f32, String::new());
    for (i, (pname, _)) in policy.params.iter().enumerate() {
        let theirs = values(&golden[pname]);
        let ours = grads.grads[i].as_ref().unwrap_or_else(|| panic!("{name}: no gradient reached {pname}"));
        let e = max_rel(ours, &theirs);
        // The issue asks ≤ 1e-3; measured ≤ 2.4e-6 on all three fixtures.
        assert!(e <= 1e-5, "{name}: {pname}: max relative gradient error {e}");
        if e > worst.0 {
            worst = (e, pname.clone());
        }
    }
    eprintln!("{name}: loss {loss} (torch {torch_loss}); worst gradient error {:.2e} in {}", worst.0, worst.1);

    if name == "qwen2_f32" {
        check_adamw(&policy, &c, grads);
    }
}

fn golden_file(name: &str, file: &str) -> std::collections::BTreeMap<String, Tensor> {
    read_f32_safetensors(&root().join("tests/fixtures/train_golden").join(name).join(file)).unwrap()
}

/// Gradients as the optimizer takes them, from named tensors in the policy's order.
fn gradients_from(policy: &Policy, named: &std::collections::BTreeMap<String, Tensor>) -> Gradients {
    let mut g = Gradients::new(policy);
    for (i, (n, _)) in policy.params.iter().enumerate() {
        g.grads[i] = Some(values(&named[n]));
    }
    g
}

fn max_param_diff(policy: &Policy, golden: &std::collections::BTreeMap<String, Tensor>) -> (f32, String) {
    let mut worst = (0f32, String::new());
    for (pname, var) in &policy.params {
        let d =
            values(var.as_tensor()).iter().zip(values(&golden[pname])).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        if d >= worst.0 {
            worst = (d, pname.clone());
        }
    }
    worst
}

/// torch.optim.AdamW's two steps: first fed torch's own gradients (the optimizer alone, ≤ 1e-5
/// per parameter as the issue asks), then end to end on our own gradients.
fn check_adamw(policy: &Policy, c: &Case, our_grads: Gradients) {
    let name = "qwen2_f32";
    let j = &c.json;
    let o = OptimSection {
        lr: j["lr"].as_f64().unwrap(),
        beta1: j["betas"][0].as_f64().unwrap(),
        beta2: j["betas"][1].as_f64().unwrap(),
        eps: j["eps"].as_f64().unwrap(),
        weight_decay: j["weight_decay"].as_f64().unwrap(),
        ..Default::default()
    };
    let start: Vec<Tensor> = policy.params.iter().map(|(_, v)| v.as_tensor().detach().copy().unwrap()).collect();
    let mut opt = AdamW::new(policy, &o);
    opt.step(policy, &gradients_from(policy, &golden_file(name, "grads.safetensors")), o.lr).unwrap();
    let (d1, p1) = max_param_diff(policy, &golden_file(name, "step1.safetensors"));
    assert!(d1 <= 1e-5, "one AdamW step on torch's gradients: {p1} differs from torch by {d1}");
    opt.step(policy, &gradients_from(policy, &golden_file(name, "grads2.safetensors")), o.lr).unwrap();
    let (d2, p2) = max_param_diff(policy, &golden_file(name, "step2.safetensors"));
    assert!(d2 <= 1e-5, "two AdamW steps on torch's gradients: {p2} differs from torch by {d2}");
    eprintln!("{name}: AdamW on torch's gradients within {d1:.2e} (one step), {d2:.2e} (two steps)");

    // End to end: one step on our own gradients gives torch's next loss. (Parameters are not
    // compared after our own steps: Adam divides each gradient by its own size, so coordinates
    // whose gradient is as small as the ~2e-6 relative rounding differences move by ±lr at random.)
    for ((_, var), t) in policy.params.iter().zip(&start) {
        var.set(t).unwrap();
    }
    let mut opt = AdamW::new(policy, &o);
    opt.step(policy, &our_grads, o.lr).unwrap();
    let (loss2, _) = loss_and_grads(policy, c);
    let torch_loss2 = j["losses"][1].as_f64().unwrap() as f32;
    assert!(
        (loss2 - torch_loss2).abs() <= 1e-5 * torch_loss2.abs(),
        "{name}: loss after one step {loss2} vs torch {torch_loss2}"
    );
    eprintln!("{name}: loss after one step on our gradients {loss2} (torch {torch_loss2})");
}

#[test]
fn qwen2_gradients_and_adamw_match_pytorch() {
    check_fixture("qwen2_f32");
}

#[test]
fn llama_gradients_and_adamw_match_pytorch() {
    check_fixture("llama_f32");
}

#[test]
fn qwen3_gradients_and_adamw_match_pytorch() {
    check_fixture("qwen3_f32");
}

/// Central differences of the loss in f64 arithmetic around f32 weights: a few coordinates of
/// every parameter tensor of the Qwen3 fixture (q/k norms included).
#[test]
fn gradients_match_finite_differences() {
    let c = case("qwen3_f32");
    let policy = Policy::from_checkpoint(&root().join("tests/fixtures/qwen3_f32")).unwrap();
    let (_, grads) = loss_and_grads(&policy, &c);
    let loss_at = |p: &Policy| -> f64 {
        let seqs: Vec<&[u32]> = c.seqs.iter().map(Vec::as_slice).collect();
        let logp = next_token_logprobs(p.infer.model.as_ref(), &seqs).unwrap();
        let lp: Vec<f32> = logp.to_vec1().unwrap();
        -lp.iter().zip(&c.mask).map(|(a, m)| *a as f64 * *m as f64).sum::<f64>() / c.denom as f64
    };
    let h = 1e-2f32;
    let (mut checked, mut worst) = (0, 0f64);
    for (i, (pname, var)) in policy.params.iter().enumerate() {
        let g = grads.grads[i].as_ref().unwrap();
        let mut w = values(var.as_tensor());
        // The largest-gradient coordinate and two fixed ones.
        let big = (0..g.len()).max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs())).unwrap();
        for k in [big, g.len() / 3, g.len() - 1] {
            let orig = w[k];
            let mut at = |v: f32| {
                w[k] = v;
                var.set(&Tensor::from_slice(&w, var.shape(), var.device()).unwrap()).unwrap();
                loss_at(&policy)
            };
            let fd = (at(orig + h) - at(orig - h)) / (2.0 * h as f64);
            at(orig);
            let scale = g.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
            let e = (fd - g[k] as f64).abs() / scale.max(1e-6);
            assert!(
                e < 5e-3,
                "{pname}[{k}]: autograd {} vs finite difference {fd} (relative to the tensor's largest gradient: {e})",
                g[k]
            );
            worst = worst.max(e);
            checked += 1;
        }
    }
    eprintln!("{checked} coordinates; worst finite-difference error {worst:.2e} of each tensor's largest gradient");
}

/// One GRPO update raises the log-probability of a completion with a positive advantage and
/// lowers that of one with a negative advantage (the objective's sign, end to end).
#[test]
fn grpo_step_moves_logprobs_with_the_advantage() {
    use reasoner_train::config::LossType;
    use reasoner_train::loss::{GrpoObjective, PolicyTokens, grpo_loss};
    let policy = Policy::from_checkpoint(&root().join("tests/fixtures/qwen2_f32")).unwrap();
    let (good, bad): (Vec<u32>, Vec<u32>) = ((0..12).map(|i| 10 + i).collect(), (0..12).map(|i| 200 + i).collect());
    let prompt = 4;
    let logps = |p: &Policy| -> Vec<f32> {
        let lp: Vec<f32> = next_token_logprobs(p.train.model.as_ref(), &[&good, &bad]).unwrap().to_vec1().unwrap();
        let n = good.len() - 1;
        vec![lp[prompt - 1..n].iter().sum(), lp[n + prompt - 1..].iter().sum()]
    };
    let before = logps(&policy);
    for loss_type in [LossType::Grpo, LossType::DrGrpo, LossType::Dapo] {
        let lp = next_token_logprobs(policy.train.model.as_ref(), &[&good, &bad]).unwrap();
        let n = good.len() - 1;
        let c = good.len() - prompt;
        let old: Vec<f32> = lp.to_vec1().unwrap();
        let parts = vec![
            PolicyTokens {
                logp: lp.narrow(0, n - c, c).unwrap(),
                old_logp: &old[n - c..n],
                ref_logp: &[],
                advantage: 1.0,
            },
            PolicyTokens {
                logp: lp.narrow(0, 2 * n - c, c).unwrap(),
                old_logp: &old[2 * n - c..],
                ref_logp: &[],
                advantage: -1.0,
            },
        ];
        let obj = GrpoObjective {
            eps_low: 0.2,
            eps_high: 0.2,
            beta: 0.0,
            loss_type,
            batch_completions: 2,
            batch_tokens: 2 * c,
            max_completion_tokens: c,
        };
        let terms = grpo_loss(&parts, &obj).unwrap();
        let mut g = Gradients::new(&policy);
        g.add(&policy, &terms.loss.backward().unwrap()).unwrap();
        let o = OptimSection { lr: 1e-3, ..Default::default() };
        AdamW::new(&policy, &o).step(&policy, &g, 1e-3).unwrap();
    }
    let after = logps(&policy);
    assert!(after[0] > before[0] + 0.1, "positive advantage: log p {} -> {}", before[0], after[0]);
    assert!(after[1] < before[1] - 0.1, "negative advantage: log p {} -> {}", before[1], after[1]);
}

/// Data parallelism: the batch split into shards on a pool of 2 and of 3 threads, each shard's
/// loss normalised by the whole batch's token count, must give PyTorch's gradients of the whole
/// batch to the same bound as one pass.
#[test]
fn sharded_gradients_match_pytorch() {
    use reasoner_train::data_parallel::{ShardLoss, sharded_backward};
    let name = "qwen2_f32";
    let c = case(name);
    let policy = Policy::from_checkpoint(&root().join("tests/fixtures").join(name)).unwrap();
    let golden = golden_file(name, "grads.safetensors");
    // Each sequence with its slice of the flattened mask.
    let mut off = 0;
    let items: Vec<(Vec<u32>, Vec<f32>)> = c
        .seqs
        .iter()
        .map(|s| {
            let m = c.mask[off..off + s.len() - 1].to_vec();
            off += s.len() - 1;
            (s.clone(), m)
        })
        .collect();
    for threads in [2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let (grads, parts) = pool
            .install(|| {
                sharded_backward(&policy, &items, |shard| {
                    let seqs: Vec<&[u32]> = shard.iter().map(|(s, _)| s.as_slice()).collect();
                    let mask: Vec<f32> = shard.iter().flat_map(|(_, m)| m.iter().copied()).collect();
                    let logp = next_token_logprobs(policy.train.model.as_ref(), &seqs)?;
                    Ok(ShardLoss { loss: masked_nll(&logp, &mask, c.denom)?, extra: () })
                })
            })
            .unwrap();
        assert_eq!(parts.len(), threads.min(items.len()), "one shard per thread");
        let loss: f32 = parts.iter().map(|p| p.loss).sum();
        let torch_loss = c.json["losses"][0].as_f64().unwrap() as f32;
        assert!(
            (loss - torch_loss).abs() <= 1e-5 * torch_loss.abs(),
            "{threads} shards: loss {loss} vs torch {torch_loss}"
        );
        for (i, (pname, _)) in policy.params.iter().enumerate() {
            let e = max_rel(grads.grads[i].as_ref().unwrap(), &values(&golden[pname]));
            assert!(e <= 1e-5, "{threads} shards: {pname}: max relative gradient error {e}");
        }
    }
}
