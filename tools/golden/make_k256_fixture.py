#!/usr/bin/env python3
"""Make tests/fixtures/qwen2_k256/: a tiny Qwen2ForCausalLM whose every matrix row length is a
multiple of 256 (hidden 256, intermediate 256), so the K-quants (Q4_K, Q6_K: 256-value super-blocks)
apply to every 2-D weight without the per-tensor fallback that hidden 64 forces.

    /work/venv-golden/bin/python tools/golden/make_k256_fixture.py
    (or tools/golden/.venv/bin/python, the venv tools/golden/make_fixtures.sh makes)

Conventions are make_fixtures.py's (imported from it): same seeded `randomize`, same 3 id cases +
2 text cases, golden.json in the same schema (log_softmax in f32, eager attention, bf16 weights
upcast to f32 before the forward pass), classic `rope_theta` + `rope_scaling: null` config layout.
The tokenizer is qwen2_f32's, copied byte for byte (tokenizer.json, tokenizer_config.json).

Size: hidden 256 with intermediate 512 and 2 layers is 1.29 M parameters = 2.6 MB even in bf16,
over the 2 MB fixture limit, so intermediate is 256 (0.89 M parameters, weights stored bf16,
~1.8 MB in all). Deterministic: remaking with the same package versions gives identical files.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (sets deterministic torch, 1 thread)
from tokenizers import Tokenizer  # noqa: E402
from transformers import Qwen2Config, Qwen2ForCausalLM  # noqa: E402

NAME = "qwen2_k256"
SEED = 21
SRC_TOKENIZER = mf.OUT / "qwen2_f32"
STORE_DTYPE = torch.bfloat16


def main() -> None:
    endoftext, im_end = mf.tid("<|endoftext|>"), mf.tid("<|im_end|>")
    config = Qwen2Config(
        architectures=["Qwen2ForCausalLM"], vocab_size=416, hidden_size=256, intermediate_size=256,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
        rms_norm_eps=1e-6, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        bos_token_id=endoftext, eos_token_id=im_end, use_sliding_window=False,
    )
    d = mf.fresh_dir(NAME)
    torch.manual_seed(SEED)
    config._attn_implementation = "eager"
    model = Qwen2ForCausalLM(config).eval()
    # embed_std 0.25 = qwen2_f32's 0.5 * sqrt(64 / 256): tied logits keep the same spread (std ~4)
    mf.randomize(model, SEED, embed_std=0.25)
    mf.set_generation_config(model, bos=endoftext, eos=[im_end, endoftext], do_sample=True, temperature=0.7,
                             top_p=0.8, top_k=20, repetition_penalty=1.05)
    mf.save_model(model, d, STORE_DTYPE)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(SRC_TOKENIZER / f, d / f)
    tk = Tokenizer.from_file(str(d / "tokenizer.json"))
    chat = mf.TEXT_CHAT["chatml"]
    mf.check_hf_tokenizer(d, tk, [mf.TEXT_PLAIN, chat])

    m = mf.load_f32(d, Qwen2ForCausalLM)
    golden = mf.golden_for(m, tk, config.vocab_size, SEED, chat)
    # the config rewritten into the classic layout (rope_theta + rope_scaling: null) loads the same
    mf.rewrite_config(d, mf.to_classic_rope)
    m2 = mf.load_f32(d, Qwen2ForCausalLM)
    mf.assert_same(golden, mf.golden_for(m2, tk, config.vocab_size, SEED, chat), NAME + " classic rope keys")

    for name, p in m2.named_parameters():
        if p.dim() == 2:
            assert p.shape[-1] % 256 == 0, (name, tuple(p.shape))
    mf.finish_fixture(d, NAME, "Qwen2ForCausalLM", "bfloat16", golden)


if __name__ == "__main__":
    main()
