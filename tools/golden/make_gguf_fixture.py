#!/usr/bin/env python3
"""Writes tests/fixtures/gguf/tiny_gguf_py.gguf with the `gguf` PyPI package's GGUFWriter, so
the Rust reader is tested on a file it did not write. Every metadata value type appears, and
each tensor `t` in a quantized type has a sibling `t.expected` (F32) holding what
gguf.quants.dequantize makes of it.

Usage: python tools/golden/make_gguf_fixture.py [--out PATH]   (needs: pip install gguf numpy)
"""

import argparse
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=ROOT / "tests/fixtures/gguf/tiny_gguf_py.gguf", type=Path)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    w = gguf.GGUFWriter(str(args.out), arch="qwen2", use_temp_file=False)
    w.add_custom_alignment(64)
    w.add_name("tiny gguf fixture")
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4_000_000_000)
    w.add_int32("test.i32", -2_000_000_000)
    w.add_float32("test.f32", 0.15625)
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", -1.0e-300)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo ✓ <think>")
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "▁hi", "ü", ""])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.5, -2.25, 3.0, 0.5])
    w.add_array("tokenizer.ggml.token_type", [3, 3, 1, 1, 1])
    w.add_key_value("test.array_u64", [1, 2**40], V.ARRAY, sub_type=V.UINT64)
    w.add_key_value("test.array_i16", [-7, 8, 9], V.ARRAY, sub_type=V.INT16)
    w.add_array("test.array_bool", [True, False, True])
    w.add_array("test.nested", [[1, 2], [3]])

    rng = np.random.default_rng(7)
    w.add_tensor("f32.plain", np.arange(2 * 3, dtype=np.float32).reshape(2, 3) - 2.5)
    w.add_tensor("f16.plain", (rng.standard_normal((3, 8)) * 0.5).astype(np.float16))
    x = (rng.standard_normal((2, 64)) * 0.1).astype(np.float32)
    for qtype in (T.BF16, T.Q8_0, T.Q4_0, T.Q5_0):
        name = qtype.name.lower()
        q = gguf.quants.quantize(x, qtype)
        w.add_tensor(f"{name}.weight", q, raw_dtype=qtype)
        w.add_tensor(f"{name}.weight.expected", gguf.quants.dequantize(q, qtype))
    # K-quants: the package has no quantizer, so store random valid blocks (small f16 scales)
    # and what its dequantizer makes of them.
    for qtype in (T.Q4_K, T.Q6_K):
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(2, size), dtype=np.uint8)
        scales = (rng.uniform(0.001, 0.01, size=(2, 2))).astype(np.float16).view(np.uint8)
        if qtype == T.Q4_K:
            raw[:, 0:4] = scales
        else:
            raw[:, size - 2:] = scales[:, :2]
        raw = raw.reshape(1, 2 * size)
        name = qtype.name.lower()
        w.add_tensor(f"{name}.weight", raw, raw_dtype=qtype)
        w.add_tensor(f"{name}.weight.expected", gguf.quants.dequantize(raw, qtype))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
