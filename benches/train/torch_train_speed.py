#!/usr/bin/env python3
"""PyTorch's side of benches/train_speed.sh: the same Qwen2-shaped model (random init from the
same config.json), the same batch of token windows from the same corpus, the same AdamW
settings, f32 on the CPU with the same thread count. Prints one JSON line:
{"tokens_per_s", "forward_s", "backward_s", "optimizer_s", "steps", "tokens_per_step"}.

    python torch_train_speed.py CONFIG.json CORPUS_IDS.json --steps 8 --batch 8 --seq 256 --threads 2
"""
import argparse
import json
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("config")
ap.add_argument("ids")
ap.add_argument("--steps", type=int, default=8)
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=256)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
cfg = Qwen2Config(**{k: v for k, v in json.load(open(a.config)).items() if k != "architectures"})
model = Qwen2ForCausalLM(cfg).float()
model.config._attn_implementation = "sdpa"
ids = json.load(open(a.ids))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
windows = [ids[i:i + a.seq] for i in range(0, len(ids) - a.seq, a.seq)]
t_f = t_b = t_o = 0.0
total_tokens = 0
t_all = None
for step in range(a.steps + 1):  # step 0 warms up and is not counted
    batch = torch.tensor([windows[(step * a.batch + j) % len(windows)] for j in range(a.batch)])
    t0 = time.perf_counter()
    logits = model(input_ids=batch[:, :-1]).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
    t1 = time.perf_counter()
    opt.zero_grad()
    loss.backward()
    t2 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    t3 = time.perf_counter()
    if step == 0:
        t_all = time.perf_counter()
        continue
    t_f += t1 - t0
    t_b += t2 - t1
    t_o += t3 - t2
    total_tokens += batch.numel()
elapsed = time.perf_counter() - t_all
print(json.dumps({"tokens_per_s": total_tokens / elapsed, "forward_s": t_f, "backward_s": t_b, "optimizer_s": t_o,
                  "steps": a.steps, "tokens_per_step": a.batch * a.seq}))
