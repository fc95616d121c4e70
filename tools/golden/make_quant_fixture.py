#!/usr/bin/env python3
"""Writes tests/fixtures/quant/quant_golden.json: reference quantizations and dequantizations
for the Rust quant module to match bit for bit.

- Q8_0, Q4_0, Q5_0, BF16, F16: quantize and dequantize with the `gguf` PyPI package
  (gguf.quants, which mirrors ggml-quants.c's reference quantizers).
- Q4_K, Q6_K: gguf.quants only dequantizes these, so random valid blocks are dequantized with
  it; the quantize goldens come from llama.cpp's own C reference (`quantize_row_q4_K_ref`,
  `quantize_row_q6_K_ref`), compiled from a llama.cpp checkout with --llama-cpp DIR and called
  through ctypes (strict IEEE float: -ffp-contract=off). Without --llama-cpp they are left out.
  A llama.cpp source tree comes with PyPI's sdist of llama-cpp-python (vendor/llama.cpp).

Usage: python tools/golden/make_quant_fixture.py [--llama-cpp DIR] [--out PATH]
"""

import argparse
import ctypes
import importlib.metadata
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

ROOT = Path(__file__).resolve().parents[2]
ROWS, COLS = 3, 512

STUBS = r"""
#include <stdlib.h>
#include <stddef.h>
void ggml_abort(const char *file, int line, const char *fmt, ...) { abort(); }
size_t ggml_row_size(int type, long long ne) { abort(); }
const char *ggml_type_name(int type) { return "?"; }
size_t ggml_type_size(int type) { abort(); }
"""


def inputs() -> np.ndarray:
    rng = np.random.default_rng(1234)
    x = np.zeros((ROWS, COLS), dtype=np.float32)
    x[0] = rng.standard_normal(COLS) * 0.02
    r = np.zeros(COLS, dtype=np.float32)
    r[32:64] = 0.5                                   # constant block
    r[64:96] = rng.standard_normal(32) * 1e-3
    r[70] = 3.0                                      # one outlier
    r[96:128] = rng.standard_normal(32) * 1e-20      # scale underflows f16
    r[128:160] = rng.standard_normal(32) * 1e4       # large values
    r[160:192] = rng.standard_normal(32) * 0.1
    r[161], r[170] = 1.0, -1.0                       # absmax tie, first one wins
    r[192:256] = np.where(np.arange(64) % 2 == 0, 0.25, -0.75)
    # r[256:512] stays zero: an all-zero super-block
    x[1] = r
    x[2] = rng.uniform(-1, 1, COLS) ** 3 + 0.3       # mostly positive blocks
    return x


def hexf(a: np.ndarray) -> str:
    return np.ascontiguousarray(a, dtype=np.float32).tobytes().hex()


def hexb(a: np.ndarray) -> str:
    return np.ascontiguousarray(a, dtype=np.uint8).tobytes().hex()


def load_ggml(llama_cpp: Path, workdir: Path) -> ctypes.CDLL:
    src = llama_cpp / "ggml/src"
    stubs = workdir / "stubs.c"
    stubs.write_text(STUBS)
    lib = workdir / "libggml_quants_ref.so"
    subprocess.run(
        ["cc", "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-o", str(lib),
         str(src / "ggml-quants.c"), str(stubs), f"-I{llama_cpp / 'ggml/include'}", f"-I{src}", "-lm"],
        check=True,
    )
    return ctypes.CDLL(str(lib))


def c_quantize(lib: ctypes.CDLL, fn: str, x: np.ndarray, qtype: T) -> np.ndarray:
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.zeros(x.size // block * size, dtype=np.uint8)
    f = getattr(lib, fn)
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    f(x.ctypes.data, out.ctypes.data, x.size)
    return out.reshape(x.shape[0], -1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--llama-cpp", type=Path, help="llama.cpp source tree (for K-quant goldens)")
    ap.add_argument("--out", default=ROOT / "tests/fixtures/quant/quant_golden.json", type=Path)
    args = ap.parse_args()

    x = inputs()
    fixture = {
        "generator": f"tools/golden/make_quant_fixture.py, gguf {importlib.metadata.version('gguf')}",
        "rows": ROWS,
        "cols": COLS,
        "input_f32": hexf(x),
        "quantize": {},
        "dequantize": {},
    }
    for qtype in (T.Q8_0, T.Q4_0, T.Q5_0, T.BF16, T.F16):
        q = gguf.quants.quantize(x, qtype)
        fixture["quantize"][qtype.name.lower()] = {
            "source": "gguf.quants.quantize",
            "bytes": hexb(q.view(np.uint8)),
            "dequantized_f32": hexf(gguf.quants.dequantize(q, qtype)),
        }

    with tempfile.TemporaryDirectory() as tmp:
        lib = load_ggml(args.llama_cpp, Path(tmp)) if args.llama_cpp else None
        if lib is not None:
            # The C reference and gguf.quants must agree where both exist.
            for qtype, fn in ((T.Q8_0, "quantize_row_q8_0_ref"), (T.Q4_0, "quantize_row_q4_0_ref"),
                              (T.Q5_0, "quantize_row_q5_0_ref")):
                assert (c_quantize(lib, fn, x, qtype) == gguf.quants.quantize(x, qtype)).all(), qtype
            for qtype, fn in ((T.Q4_K, "quantize_row_q4_K_ref"), (T.Q6_K, "quantize_row_q6_K_ref")):
                q = c_quantize(lib, fn, x, qtype)
                fixture["quantize"][qtype.name.lower()] = {
                    "source": f"llama.cpp {fn} via ctypes",
                    "bytes": hexb(q),
                    "dequantized_f32": hexf(gguf.quants.dequantize(q, qtype)),
                }

    # Random blocks with sane f16 scales, for the K-quant dequantizers.
    rng = np.random.default_rng(99)
    for qtype in (T.Q4_K, T.Q6_K):
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(4, size), dtype=np.uint8)
        scales = rng.uniform(-0.02, 0.02, size=(4, 2)).astype(np.float16).view(np.uint8)
        if qtype == T.Q4_K:
            raw[:, 0:4] = scales
        else:
            raw[:, size - 2:] = scales[:, :2]
        fixture["dequantize"][qtype.name.lower()] = {
            "source": "gguf.quants.dequantize",
            "bytes": hexb(raw),
            "f32": hexf(gguf.quants.dequantize(raw.reshape(1, -1), qtype)),
        }

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), quantize: {sorted(fixture['quantize'])}")


if __name__ == "__main__":
    main()
