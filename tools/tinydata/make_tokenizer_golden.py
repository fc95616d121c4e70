"""Golden values for the tiny-r1 tokenizer fixture (crates/model/tests/fixtures/tiny_bpe).

The fixture itself is written by our trainer
(`cargo test --release -p reasoner-model --test bpe_train -- --ignored write_fixture`); this
script records what the reference implementations make of it: ids and decodings from the Python
`tokenizers` library, and the chat template rendered by Jinja2 the way transformers'
`apply_chat_template` renders it. Run with: pip install tokenizers==0.23.3 jinja2==3.1.6
"""

import json
import pathlib

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/model/tests/fixtures/tiny_bpe"

TEXTS = [
    ("What is 347 + 589?", False),
    ("What is 347 + 589?\n\nPlease reason step by step, and put your final answer within \\boxed{}.", True),
    ("<think>\nAdd 347 + 589 column by column, from the right.\nones: 7 + 9 + 0 = 16, write 6, carry 1\n"
     "tens: 4 + 8 + 1 = 13, write 3, carry 1\nhundreds: 3 + 5 + 1 = 9, write 9, carry 0\n"
     "So 347 + 589 = 936.\n</think>\n\n347 + 589 = \\boxed{936}<｜end▁of▁sentence｜>", False),
    ("<｜begin▁of▁sentence｜><｜User｜>Solve for x: -3x - 2 = 7.<｜Assistant｜><think>\n", False),
    ("Using the numbers [19, 36, 55, 7], create an equation that equals 65.", True),
    ("Who was the first president of the United States?", False),
    ("café ✓ 日本語 — emoji 🙂", False),
    ("  two  spaces\tand tab\r\nand 1234567890 digits", True),
    ("Counting down by 5 from 221: 221, 216, 211.", True),
]


def render(template, messages, add_generation_prompt, bos, eos):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=add_generation_prompt, bos_token=bos, eos_token=eos
    )


def main():
    tok = Tokenizer.from_file(str(FIXTURE / "tokenizer.json"))
    cfg = json.loads((FIXTURE / "tokenizer_config.json").read_text())
    bos, eos = cfg["bos_token"]["content"], cfg["eos_token"]["content"]
    encodings = []
    for text, add_special in TEXTS:
        ids = tok.encode(text, add_special_tokens=add_special).ids
        encodings.append({
            "text": text,
            "add_special_tokens": add_special,
            "ids": ids,
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
        })
    user = {"role": "user", "content": "What is 347 + 589?"}
    convs = [
        [user],
        [user, {"role": "assistant", "content": "<think>\n7 + 9 = 16\n</think>\n\n347 + 589 = \\boxed{936}"},
         {"role": "user", "content": "hello"}],
        [{"role": "system", "content": "Be brief."}, user],
    ]
    renders = [
        {"messages": c, "add_generation_prompt": g, "text": render(cfg["chat_template"], c, g, bos, eos)}
        for c in convs
        for g in (True, False)
    ]
    out = FIXTURE / "golden.json"
    out.write_text(json.dumps({"encodings": encodings, "renders": renders}, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {out}: {len(encodings)} encodings, {len(renders)} renders")


if __name__ == "__main__":
    main()
