#!/usr/bin/env python3
"""Make tests/fixtures/qwen2_trained/: qwen2_k256's shape (hidden 256, intermediate 256, 2 layers,
vocab 416, every row a multiple of 256 so all K-quants apply), but *trained* instead of random, so
that quantization error can be judged as on a real model. Random fixtures have logits with a
spread of ~4 drawn from no data; quantization noise there moves log-probs by 0.1-1, which says
nothing about a trained network (llama.cpp's own Q8_0 is off by as much on them).

Data: the license texts Debian ships in /usr/share/common-licenses (GPL, LGPL, GFDL, Apache,
MPL, Artistic, BSD, CC0; ~300 KB of English prose, free to copy), tokenized with the fixtures'
400-token BPE; the last 5% of the token stream is held out. Training: HF's default init, AdamW
(lr 3e-3, cosine to 3e-4, weight decay 0.1), batches of 16 x 128 tokens, STEPS steps, f32 on
the CPU (2 threads, ~4 minutes). Stored in bf16, like qwen2_k256.

golden.json: make_fixtures.py's 3 id cases + 2 text cases, plus 4 held-out cases (kind
"heldout": 96-token windows of the held-out text) with transformers' log-probs, and
"train": the loss curve and held-out loss/perplexity of the stored (bf16) weights.

    /work/venv-golden/bin/python tools/golden/make_trained_fixture.py
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (sets deterministic torch)
from tokenizers import Tokenizer  # noqa: E402
from transformers import Qwen2Config, Qwen2ForCausalLM  # noqa: E402

NAME = "qwen2_trained"
SEED = 33
STEPS = 700
BATCH, SEQ = 16, 128
HELDOUT_LEN, HELDOUT_CASES = 96, 4
LICENSES = Path("/usr/share/common-licenses")
SRC_TOKENIZER = mf.OUT / "qwen2_f32"


def corpus(tk: Tokenizer) -> list[int]:
    ids: list[int] = []
    for f in sorted(LICENSES.iterdir()):
        if f.is_file():
            ids.extend(tk.encode(f.read_text(encoding="utf-8", errors="replace")).ids)
    return ids


def main() -> None:
    torch.set_num_threads(2)
    endoftext, im_end = mf.tid("<|endoftext|>"), mf.tid("<|im_end|>")
    config = Qwen2Config(
        architectures=["Qwen2ForCausalLM"], vocab_size=416, hidden_size=256, intermediate_size=256,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rms_norm_eps=1e-6, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        bos_token_id=endoftext, eos_token_id=im_end, use_sliding_window=False,
    )
    d = mf.fresh_dir(NAME)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(SRC_TOKENIZER / f, d / f)
    tk = Tokenizer.from_file(str(d / "tokenizer.json"))
    ids = corpus(tk)
    split = int(len(ids) * 0.95)
    train, held = torch.tensor(ids[:split]), ids[split:]
    print(f"corpus {len(ids)} tokens, {split} for training")

    torch.manual_seed(SEED)
    config._attn_implementation = "eager"
    model = Qwen2ForCausalLM(config)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(SEED)
    losses = []
    for step in range(STEPS):
        lr = 3e-4 + 0.5 * (3e-3 - 3e-4) * (1 + math.cos(math.pi * step / STEPS))
        for group in opt.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train) - SEQ - 1, (BATCH,), generator=g)
        x = torch.stack([train[s:s + SEQ] for s in starts])
        loss = model(input_ids=x, labels=x, use_cache=False).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(round(float(loss), 4))
        if step % 50 == 0 or step == STEPS - 1:
            print(f"step {step:4d} loss {float(loss):.3f} lr {lr:.2e}")
    model.eval()

    mf.set_generation_config(model, bos=endoftext, eos=[im_end, endoftext], do_sample=True, temperature=0.7,
                             top_p=0.8, top_k=20, repetition_penalty=1.05)
    mf.save_model(model, d, torch.bfloat16)
    chat = mf.TEXT_CHAT["chatml"]
    mf.check_hf_tokenizer(d, tk, [mf.TEXT_PLAIN, chat])
    m = mf.load_f32(d, Qwen2ForCausalLM)
    golden = mf.golden_for(m, tk, config.vocab_size, SEED, chat)
    stride = (len(held) - HELDOUT_LEN) // HELDOUT_CASES
    nll, n = 0.0, 0
    for k in range(HELDOUT_CASES):
        window = held[k * stride:k * stride + HELDOUT_LEN]
        lp = mf.logprobs_from_logits(mf.logits_of(m, window), window)
        golden["cases"].append({"kind": "heldout", "ids": window, "logprobs": lp})
        nll -= sum(lp)
        n += len(lp)
    rewrite = mf.rewrite_config
    rewrite(d, mf.to_classic_rope)
    extra = {"train": {"steps": STEPS, "batch": BATCH, "seq": SEQ, "corpus_tokens": len(ids), "losses": losses,
                       "heldout_loss": nll / n, "heldout_perplexity": math.exp(nll / n),
                       "data": "Debian /usr/share/common-licenses, last 5% held out"}}
    print(f"held-out loss {nll / n:.3f} (perplexity {math.exp(nll / n):.2f})")
    mf.finish_fixture(d, NAME, "Qwen2ForCausalLM", "bfloat16", golden, extra)


if __name__ == "__main__":
    main()
