#!/usr/bin/env python3
"""Write a random-weight Hugging Face checkpoint in the exact shape of a real model, for speed
work (weights are noise, so outputs are meaningless; correctness stays on tests/fixtures).

    python3 tools/speed/make_random_model.py --shape qwen2.5-0.5b --out bench-models/qwen2.5-0.5b
    python3 tools/speed/make_random_model.py --shape r1-distill-qwen-1.5b --out bench-models/r1-1.5b

    python3 tools/speed/make_random_model.py --shape qwen2.5-0.5b --dtype bf16 --out bench-models/qwen2.5-0.5b-bf16

Needs numpy and safetensors (pip). Weights are stored as F16, or BF16 with --dtype bf16 (numpy has
no bf16: the f32 values are rounded to bf16 bits here, nearest-even, and the file written by hand)."""
import argparse, json, os
import struct
import numpy as np
from safetensors.numpy import save_file


def save_bf16(tensors, path):
    """A safetensors file of BF16 tensors from f32/f16 arrays (bf16 = the top 16 bits of f32,
    rounded to nearest-even), written by hand as the format describes: u64 header length, JSON
    header with data_offsets, then the data."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        x = np.ascontiguousarray(tensors[name], dtype=np.float32).view(np.uint32)
        bits = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(bits)]}
        blobs.append(bits)
        offset += len(bits)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)

SHAPES = {
    # config values as in the released config.json files
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True, rope_theta=1000000.0,
                         max_position_embeddings=32768, rms_norm_eps=1e-6),
    # tiny-r1's shape (models/tiny-r1) with a 32k context: long-trace decode speed beside llama-bench -d
    "tiny-r1-32k": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                        num_key_value_heads=2, vocab_size=1024, tie_word_embeddings=True, rope_theta=10000.0,
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
    ap.add_argument("--dtype", choices=["f16", "bf16"], default="f16")
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
    if a.dtype == "bf16":
        save_bf16(t, os.path.join(a.out, "model.safetensors"))
    else:
        save_file(t, os.path.join(a.out, "model.safetensors"))
    torch_dtype = {"f16": "float16", "bf16": "bfloat16"}[a.dtype]
    cfg = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu", torch_dtype=torch_dtype, **c)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"wrote {a.out} ({sum(v.nbytes for v in t.values()) / 2**20:.0f} MiB)")

if __name__ == "__main__":
    main()
