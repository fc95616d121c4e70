#!/usr/bin/env python3
"""Write a random-weight DeepSeek-V3-shaped Hugging Face checkpoint in BF16, for speed and memory
work on mixtures of experts (weights are noise: outputs are meaningless; correctness stays on
tests/fixtures). V3's attention head sizes (MLA: q_lora 1536, kv_lora 512, nope 128, rope 64,
v 128) and router (sigmoid, noaux_tc, groups), narrower and shallower than the real 671B:

    python3 tools/speed/make_random_deepseek.py --out bench-models/deepseek-v3-mini          # ~4.4 GiB
    python3 tools/speed/make_random_deepseek.py --out DIR --layers 4 --experts 32            # smaller

Tensors are generated and written one at a time (nothing held but the current tensor), as BF16
(top 16 bits of f32, rounded to nearest-even). Needs numpy."""
import argparse, json, os, struct
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--experts", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    h, heads, moe_i, dense_i, vocab = a.hidden, 16, 1024, 8192, 32000
    nope, rope, vdim, q_lora, kv_lora = 128, 64, 128, 1536, 512
    cfg = dict(
        architectures=["DeepseekV3ForCausalLM"], model_type="deepseek_v3", hidden_act="silu", torch_dtype="bfloat16",
        hidden_size=h, intermediate_size=dense_i, moe_intermediate_size=moe_i, num_hidden_layers=a.layers,
        num_attention_heads=heads, num_key_value_heads=heads, q_lora_rank=q_lora, kv_lora_rank=kv_lora,
        qk_nope_head_dim=nope, qk_rope_head_dim=rope, v_head_dim=vdim, n_routed_experts=a.experts,
        num_experts_per_tok=8, n_group=8, topk_group=4, n_shared_experts=1, first_k_dense_replace=1,
        moe_layer_freq=1, norm_topk_prob=True, routed_scaling_factor=2.5, scoring_func="sigmoid",
        topk_method="noaux_tc", vocab_size=vocab, max_position_embeddings=4096, rms_norm_eps=1e-6,
        rope_theta=10000.0, rope_interleave=True, tie_word_embeddings=False, num_nextn_predict_layers=0,
        attention_bias=False, bos_token_id=0, eos_token_id=1)
    shapes = {"model.embed_tokens.weight": (vocab, h), "model.norm.weight": (h,), "lm_head.weight": (vocab, h)}
    for l in range(a.layers):
        p = f"model.layers.{l}."
        shapes.update({
            p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,),
            p + "self_attn.q_a_proj.weight": (q_lora, h), p + "self_attn.q_a_layernorm.weight": (q_lora,),
            p + "self_attn.q_b_proj.weight": (heads * (nope + rope), q_lora),
            p + "self_attn.kv_a_proj_with_mqa.weight": (kv_lora + rope, h),
            p + "self_attn.kv_a_layernorm.weight": (kv_lora,),
            p + "self_attn.kv_b_proj.weight": (heads * (nope + vdim), kv_lora),
            p + "self_attn.o_proj.weight": (h, heads * vdim),
        })
        if l < 1:
            for n, s in [("gate_proj", (dense_i, h)), ("up_proj", (dense_i, h)), ("down_proj", (h, dense_i))]:
                shapes[p + f"mlp.{n}.weight"] = s
            continue
        shapes[p + "mlp.gate.weight"] = (a.experts, h)
        shapes[p + "mlp.gate.e_score_correction_bias"] = (a.experts,)
        for e in [f"experts.{e}" for e in range(a.experts)] + ["shared_experts"]:
            for n, s in [("gate_proj", (moe_i, h)), ("up_proj", (moe_i, h)), ("down_proj", (h, moe_i))]:
                shapes[p + f"mlp.{e}.{n}.weight"] = s
    names = sorted(shapes)
    header, offset = {}, 0
    for n in names:
        size = 2 * int(np.prod(shapes[n]))
        header[n] = {"dtype": "BF16", "shape": list(shapes[n]), "data_offsets": [offset, offset + size]}
        offset += size
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for n in names:
            s = shapes[n]
            if n.endswith("norm.weight"):
                x = np.ones(s, np.float32)
            elif n.endswith("e_score_correction_bias"):
                x = np.zeros(s, np.float32)
            else:
                x = rng.standard_normal(s, dtype=np.float32) * 0.02
            u = x.view(np.uint32)
            f.write(((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2").tobytes())
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    print(f"wrote {a.out} ({offset / 2**30:.2f} GiB, {len(names)} tensors)")


if __name__ == "__main__":
    main()
