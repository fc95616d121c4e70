#!/usr/bin/env python3
"""Write tests/fixtures/gguf_llamacpp/llamacpp_logprobs.json (called by make_fixture_ggufs.sh).

For every GGUF file in the directory (named <fixture>.<type>.gguf) and every golden.json case of
<fixture>:
  "logprobs":            llama.cpp's own log-probs (tools/llama_cpp/logprobs.cpp: CPU, f32 KV
                         cache, no flash attention; quantized matmuls quantize the activations
                         to Q8_0/Q8_K as llama.cpp does)
  "dequant_f32_logprobs" (quantized files only): transformers' eager f32 forward of the fixture
                         with every weight replaced by its dequantized GGUF value (llama.cpp's
                         gguf-py `dequantize`): the reference for an engine that dequantizes the
                         weights and computes in f32.
lp[i] = log_softmax(logits[i])[ids[i+1]], as in golden.json.

    python fixture_logprobs.py OUT_DIR FIXTURES_DIR LLAMA_LOGPROBS_EXE GGUF_PY_DIR VERSION_TEXT
Needs torch, transformers, numpy.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

out, fx, exe, gguf_py, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
sys.path.insert(0, gguf_py)
import gguf  # noqa: E402  (llama.cpp's vendored gguf-py)
from gguf.quants import dequantize  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

QWEN2_NAMES = {
    "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
    "attn_output.weight": "self_attn.o_proj.weight", "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
    "attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
}


def hf_name(n: str) -> str:
    if n == "token_embd.weight":
        return "model.embed_tokens.weight"
    if n == "output_norm.weight":
        return "model.norm.weight"
    if n == "output.weight":
        return "lm_head.weight"
    _, layer, rest = n.split(".", 2)
    return f"model.layers.{layer}.{QWEN2_NAMES[rest]}"


def lp_of(logits: torch.Tensor, ids: list) -> list:
    lp = torch.log_softmax(logits.to(torch.float32), dim=-1)
    return [float(v) for v in lp[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()]


@torch.no_grad()
def dequant_logprobs(fixture: str, path: Path, cases: list) -> list:
    """Only for Qwen2 files: llama.cpp's converter keeps Qwen2 tensors unpermuted."""
    m = AutoModelForCausalLM.from_pretrained(str(fx / fixture), dtype=torch.float32, attn_implementation="eager").eval()
    assert m.config.model_type == "qwen2", fixture
    sd = m.state_dict()
    for t in gguf.GGUFReader(str(path)).tensors:
        dst = sd[hf_name(t.name)]
        w = np.array(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(dst.shape)
        dst.copy_(torch.from_numpy(w))
    return [lp_of(m(input_ids=torch.tensor([c["ids"]]), use_cache=False).logits[0], c["ids"]) for c in cases]


def maxdiff(a: list, b: list) -> float:
    return max(abs(x - y) for ca, cb in zip(a, b) for x, y in zip(ca, cb))


files = {}
for g in sorted(out.glob("*.gguf")):
    fixture, qtype = g.name.split(".")[:2]
    golden = json.loads((fx / fixture / "golden.json").read_text())
    cases = golden["cases"]
    inp = "".join(",".join(map(str, c["ids"])) + "\n" for c in cases)
    lines = subprocess.run([exe, str(g)], input=inp, capture_output=True, text=True, check=True).stdout.split("\n")
    llama = [[float(x) for x in line.split()] for line in lines[: len(cases)]]
    for c, lp in zip(cases, llama):
        assert len(lp) == len(c["logprobs"]), g.name
    gold = [c["logprobs"] for c in cases]
    entry = {"fixture": fixture, "type": qtype, "bytes": g.stat().st_size,
             "max_abs_diff": {"llamacpp_vs_golden": maxdiff(llama, gold)}}
    msg = f"{g.name:26s} max |d logprob|: llama.cpp vs golden {maxdiff(llama, gold):.3g}"
    deq = None
    if qtype != "f32":
        deq = dequant_logprobs(fixture, g, cases)
        entry["max_abs_diff"]["dequant_f32_vs_golden"] = maxdiff(deq, gold)
        entry["max_abs_diff"]["llamacpp_vs_dequant_f32"] = maxdiff(llama, deq)
        msg += f", dequant-f32 vs golden {maxdiff(deq, gold):.3g}, llama.cpp vs dequant-f32 {maxdiff(llama, deq):.3g}"
    entry["cases"] = []
    for i, c in enumerate(cases):
        e = {"ids": c["ids"], "logprobs": llama[i]}
        if deq is not None:
            e["dequant_f32_logprobs"] = deq[i]
        entry["cases"].append(e)
    files[g.name] = entry
    print(msg)

doc = {
    "what": "per GGUF file made by llama.cpp's tools, for each golden.json case of its fixture: `logprobs` = "
            "llama.cpp's own log-probs; `dequant_f32_logprobs` (quantized files) = transformers eager f32 forward "
            "with the GGUF's dequantized weights; lp[i] = log_softmax(logits[i])[ids[i+1]]",
    "llama_cpp": version,
    "llama_cpp_settings": "tools/llama_cpp/logprobs.cpp: CPU, 2 threads, one batch per case with logits for "
                          "every position, f32 KV cache, flash attention off",
    "files": files,
}
(out / "llamacpp_logprobs.json").write_text(json.dumps(doc, indent=1) + "\n")
