#!/usr/bin/env bash
# Remake tests/fixtures/gguf_llamacpp/: GGUF files made from our HF fixtures by llama.cpp's own
# tools (convert_hf_to_gguf.py, llama-quantize), checked to run under llama-simple, plus
# llamacpp_logprobs.json: llama.cpp's own log-probs for every golden case of each file.
#
#   tools/llama_cpp/make_fixture_ggufs.sh
#
# Needs tools/llama_cpp/build.sh (run on demand) and a python with torch + transformers (see
# convert.sh). The fixture tokenizers are unknown to the converter's pre-tokenizer hash table, so
# their hashes are passed through convert.sh's temporary patch (LLAMA_CPP_PRE_HASHES):
#   Qwen2 fixtures (Qwen2 regex)      16ac8c00...e311 -> qwen2
#   llama_f32 (Llama 3 regex, BOS)    a7f4f67c...636d -> llama-bpe
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fx="$repo/tests/fixtures"
out="$fx/gguf_llamacpp"
bin="$("$here/build.sh" | sed -n 's/^LLAMA_CPP_BIN=//p')"
logprobs="$("$here/build_logprobs.sh")"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

QWEN_PRE=16ac8c001382e7f706036904089f943d542cc7d6847888f6738cf9fa5222e311=qwen2
LLAMA_PRE=a7f4f67c649b9437e1605eb51ed43d157758300eaec61e4a82389a6abd77636d=llama-bpe

conv() { # fixture pre-hash out-file
    LLAMA_CPP_PRE_HASHES="$2" "$here/convert.sh" "$fx/$1" "$3" f32 >"$work/$1.convert.log" 2>&1 \
        || { tail -20 "$work/$1.convert.log" >&2; exit 1; }
}
quant() { # in out TYPE
    "$bin/llama-quantize" "$1" "$2" "$3" 2 >"$work/$(basename "$2").quantize.log" 2>&1 \
        || { tail -20 "$work/$(basename "$2").quantize.log" >&2; exit 1; }
}

rm -rf "$out"; mkdir -p "$out"
conv qwen2_f32  "$QWEN_PRE"  "$out/qwen2_f32.f32.gguf"
conv llama_f32  "$LLAMA_PRE" "$out/llama_f32.f32.gguf"
conv qwen2_k256 "$QWEN_PRE"  "$work/qwen2_k256.f32.gguf"   # 3.6 MB: only its quantized files are kept
quant "$out/qwen2_f32.f32.gguf"   "$out/qwen2_f32.q8_0.gguf"    Q8_0
quant "$out/qwen2_f32.f32.gguf"   "$out/qwen2_f32.q4_k_m.gguf"  Q4_K_M
quant "$work/qwen2_k256.f32.gguf" "$out/qwen2_k256.q8_0.gguf"   Q8_0
quant "$work/qwen2_k256.f32.gguf" "$out/qwen2_k256.q4_k_m.gguf" Q4_K_M

for f in "$out"/*.gguf; do
    "$bin/llama-simple" -m "$f" -n 4 "The answer is" >"$work/simple.out" 2>"$work/simple.err" \
        || { tail -5 "$work/simple.err" >&2; echo "llama-simple failed on $f" >&2; exit 1; }
    echo "llama-simple ok: $(basename "$f") ($(stat -c %s "$f") bytes)"
done

py="${CONVERT_PYTHON:-}"
if [ -z "$py" ]; then
    for c in /work/venv-golden/bin/python "$repo/tools/golden/.venv/bin/python" python3; do
        if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import torch, transformers, numpy' 2>/dev/null; then py="$c"; break; fi
    done
fi
src="$("$here/build.sh" --print | sed -n 's/^LLAMA_CPP_SRC=//p')"
"$py" "$here/fixture_logprobs.py" "$out" "$fx" "$logprobs" "$src/gguf-py" \
    "$(sed -n 's/^# //p' <("$here/build.sh" --print) | paste -sd ';' | sed 's/;/; /')"
