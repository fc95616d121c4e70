#!/usr/bin/env bash
# Run llama.cpp's own convert_hf_to_gguf.py (from the source tools/llama_cpp/build.sh unpacked)
# on a Hugging Face directory.
#
#   tools/llama_cpp/convert.sh HF_DIR OUT.gguf [OUTTYPE=f32] [extra convert_hf_to_gguf.py args]
#
# Python: $CONVERT_PYTHON, else /work/venv-golden/bin/python, else tools/golden/.venv/bin/python,
# else python3 -- it needs torch, transformers, numpy (the golden venvs have them). sentencepiece
# (imported unconditionally by the Qwen2 path) is pip-installed with --target into
# $LLAMA_CPP_DIR/convert-pylib when the interpreter lacks it; the vendored gguf-py is put first on
# PYTHONPATH so the converter and its gguf package come from the same llama.cpp.
#
# Pre-tokenizer hashes: the converter names the BPE pre-tokenizer by hashing the ids of a test
# string and refuses hashes it does not know (our tiny fixture tokenizers are unknown to it).
# LLAMA_CPP_PRE_HASHES="HASH=NAME[,HASH=NAME...]" runs a temporary patched copy of the converter
# with those hashes added (e.g. the fixtures' Qwen2 tokenizer -> qwen2). The copy is deleted after.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
hf="$1"; out="$2"; outtype="${3:-f32}"; shift $(( $# >= 3 ? 3 : 2 ))

DIR="${LLAMA_CPP_DIR:-$HOME/.cache/reasoner/llama.cpp}"
src="$DIR/src"
[ -f "$src/convert_hf_to_gguf.py" ] || "$here/build.sh" >/dev/null

py="${CONVERT_PYTHON:-}"
if [ -z "$py" ]; then
    for c in /work/venv-golden/bin/python "$repo/tools/golden/.venv/bin/python" python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import torch, transformers, numpy' 2>/dev/null; then py="$c"; break; fi
    done
fi
[ -n "$py" ] || { echo "no python with torch + transformers + numpy; set CONVERT_PYTHON" >&2; exit 1; }

pylib="$DIR/convert-pylib"
if ! PYTHONPATH="$pylib" "$py" -c 'import sentencepiece' 2>/dev/null; then
    "$py" -m pip install -q --target "$pylib" sentencepiece >&2
fi

script="$src/convert_hf_to_gguf.py"
tmp=""
if [ -n "${LLAMA_CPP_PRE_HASHES:-}" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    cp "$src/convert_hf_to_gguf.py" "$tmp/"
    cp -r "$src/conversion" "$tmp/"
    ln -s "$src/gguf-py" "$tmp/gguf-py"
    "$py" - "$tmp/conversion/base.py" "$LLAMA_CPP_PRE_HASHES" <<'PY'
import sys
path, spec = sys.argv[1], sys.argv[2]
s = open(path, encoding="utf-8").read()
anchor = "        if res is None:\n            logger.warning(\"\\n\")\n"
assert s.count(anchor) == 1, "converter layout changed: cannot find the `if res is None` block"
add = ""
for item in spec.split(","):
    h, name = item.strip().split("=")
    add += f"        if chkhsh == {h!r}:\n            res = {name!r}  # added by tools/llama_cpp/convert.sh\n"
s = s.replace(anchor, add + "\n" + anchor)
open(path, "w", encoding="utf-8").write(s)
PY
    script="$tmp/convert_hf_to_gguf.py"
fi

PYTHONPATH="$src/gguf-py:$pylib${PYTHONPATH:+:$PYTHONPATH}" "$py" "$script" "$hf" --outtype "$outtype" --outfile "$out" "$@"
