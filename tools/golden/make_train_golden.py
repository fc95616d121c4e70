#!/usr/bin/env python3
"""Make tests/fixtures/train_golden/: PyTorch's gradients and AdamW steps on the dense fixtures,
the reference the trainer's gradients and optimizer are checked against.

For each of qwen2_f32 (qkv bias, tied embeddings), llama_f32 (llama3 rope scaling, untied) and
qwen3_f32 (q/k norm, explicit head_dim): two sequences of different lengths, a loss mask that
trains only the second part of each (as SFT masks the prompt), and

    loss = -sum(mask * log_softmax(logits)[next id]) / sum(mask)      (each sequence alone,
                                                                        no padding)
grads.safetensors   d loss / d parameter, every parameter, after one backward
grads2.safetensors  the gradient recomputed after the first optimizer step
step1.safetensors   the parameters after one torch.optim.AdamW step (lr 1e-2, betas (0.9,
                    0.999), eps 1e-8, weight_decay 0.1)
step2.safetensors   the parameters after the second step (on grads2)
(the optimizer files for qwen2_f32 only, to keep the fixtures small)
case.json           ids, masks, hyper-parameters, the loss before each step

transformers' eager attention, f32, CPU, deterministic.

    tools/golden/.venv/bin/python tools/golden/make_train_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
OUT = FIX / "train_golden"
LR, BETAS, EPS, WD = 1e-2, (0.9, 0.999), 1e-8, 0.1


def cases(vocab: int):
    g = torch.Generator().manual_seed(5)
    seqs = [torch.randint(0, vocab, (n,), generator=g).tolist() for n in (12, 19)]
    masks = [[1.0 if j >= 5 else 0.0 for j in range(len(s) - 1)] for s in seqs]
    return seqs, masks


def loss_of(model, seqs, masks):
    total = torch.zeros(())
    denom = sum(sum(m) for m in masks)
    for ids, m in zip(seqs, masks):
        x = torch.tensor([ids[:-1]])
        logits = model(input_ids=x).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        tgt = torch.tensor(ids[1:])
        lp = logp.gather(1, tgt[:, None])[:, 0]
        total = total - (lp * torch.tensor(m)).sum()
    return total / denom


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ["qwen2_f32", "llama_f32", "qwen3_f32"]:
        model = AutoModelForCausalLM.from_pretrained(FIX / name, torch_dtype=torch.float32, attn_implementation="eager")
        model.train()  # dropout is 0 in these configs
        vocab = model.config.vocab_size
        seqs, masks = cases(min(vocab, 400))
        params = dict(model.named_parameters())
        opt = torch.optim.AdamW(params.values(), lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
        losses = []
        d = OUT / name
        d.mkdir(exist_ok=True)
        for step in range(2):
            opt.zero_grad()
            loss = loss_of(model, seqs, masks)
            loss.backward()
            losses.append(loss.item())
            grads = {k: p.grad.detach().clone().contiguous() for k, p in params.items()}
            if step == 0 or name == "qwen2_f32":
                save_file(grads, d / ("grads.safetensors" if step == 0 else "grads2.safetensors"))
            opt.step()
            if name == "qwen2_f32":
                save_file({k: p.detach().clone().contiguous() for k, p in params.items()}, d / f"step{step + 1}.safetensors")
        (d / "case.json").write_text(json.dumps({
            "fixture": name, "ids": seqs, "masks": masks, "lr": LR, "betas": BETAS, "eps": EPS,
            "weight_decay": WD, "losses": losses, "parameter_names": sorted(params),
        }, indent=1))
        print(name, "losses", losses, "params", len(params))


if __name__ == "__main__":
    main()
