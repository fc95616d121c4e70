#!/usr/bin/env python3
"""Write a random-weight Hugging Face checkpoint in the exact shape of a real model, for speed
work (weights are noise, so outputs are meaningless; correctness stays on tests/fixtures).

    python3 tools/speed/make_random_model.py --shape qwen2.5-0.5b --out bench-models/qwen2.5-0.5b
    python3 tools/speed/make_random_model.py --shape r1-distill-qwen-1.5b --out bench-models/r1-1.5b

Needs numpy and safetensors (pip). Weights are stored as F16 (numpy has no bf16)."""
import argparse, json, os
import numpy as np
from safetensors.numpy import save_file

SHAPES = {
    # config values as in the released config.json files
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True, rope_theta=1000000.0,
                         max_position_embeddings=32768, rms_norm_eps=1e-6),
    "r1-distill-qwen-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                                 num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=False, rope_theta=10000.0,
                                 max_position_embeddings=131072, rms_norm_eps=1e-6),
}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=SHAPES, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    c = SHAPES[a.shape]
    rng = np.random.default_rng(a.seed)
    h, i, kv = c["hidden_size"], c["intermediate_size"], c["num_key_value_heads"]
    hd = h // c["num_attention_heads"]
    def w(*shape, scale=0.02):
        return (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float16)
    t = {"model.embed_tokens.weight": w(c["vocab_size"], h), "model.norm.weight": np.ones(h, np.float16)}
    if not c["tie_word_embeddings"]:
        t["lm_head.weight"] = w(c["vocab_size"], h)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        t[p + "input_layernorm.weight"] = np.ones(h, np.float16)
        t[p + "post_attention_layernorm.weight"] = np.ones(h, np.float16)
        t[p + "self_attn.q_proj.weight"] = w(h, h)
        t[p + "self_attn.q_proj.bias"] = w(h)
        t[p + "self_attn.k_proj.weight"] = w(kv * hd, h)
        t[p + "self_attn.k_proj.bias"] = w(kv * hd)
        t[p + "self_attn.v_proj.weight"] = w(kv * hd, h)
        t[p + "self_attn.v_proj.bias"] = w(kv * hd)
        t[p + "self_attn.o_proj.weight"] = w(h, h)
        t[p + "mlp.gate_proj.weight"] = w(i, h)
        t[p + "mlp.up_proj.weight"] = w(i, h)
        t[p + "mlp.down_proj.weight"] = w(h, i)
    os.makedirs(a.out, exist_ok=True)
    save_file(t, os.path.join(a.out, "model.safetensors"))
    cfg = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu", torch_dtype="float16", **c)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"wrote {a.out} ({sum(v.nbytes for v in t.values()) / 2**20:.0f} MiB)")

if __name__ == "__main__":
    main()
