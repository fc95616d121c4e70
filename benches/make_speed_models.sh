#!/usr/bin/env bash
# Make the GGUF speed models for one real shape (random weights; see benches/README.md).
#
#   benches/make_speed_models.sh [SHAPE=qwen2.5-0.5b]      (SHAPE: see tools/speed/make_random_model.py)
#
# Writes (bench-models/ is git-ignored):
#   bench-models/SHAPE/                       HF dir, F16 random weights (make_random_model.py), if missing
#   bench-models/llamacpp/SHAPE-hf/           links to that checkpoint + the fixture tokenizer files
#   bench-models/llamacpp/SHAPE.f16.gguf      llama.cpp's convert_hf_to_gguf.py --outtype f16
#   bench-models/llamacpp/SHAPE.q8_0.gguf     llama-quantize ... Q8_0
#   bench-models/llamacpp/SHAPE.q4_k_m.gguf   llama-quantize ... Q4_K_M
#   bench-models/reasoner/SHAPE.q8_0.gguf     reasoner quantize --to q8_0   (skipped with a note if it fails)
#   bench-models/reasoner/SHAPE.q4_k.gguf     reasoner quantize --to q4_k
# Existing outputs are kept (delete a file to remake it).
#
# Tokenizer: the random checkpoint has none, and llama.cpp's converter needs one. The staging dir
# gets tests/fixtures/qwen2_f32's tokenizer (400 ids); the converter pads the GGUF vocabulary to
# the config's vocab_size with [PADn] tokens, so tensor shapes stay the real ones. Its
# pre-tokenizer hash is passed to convert.sh (LLAMA_CPP_PRE_HASHES) as for the fixtures.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
shape="${1:-qwen2.5-0.5b}"
models="$repo/bench-models"
hf="$models/$shape"
lc="$models/llamacpp"
rs="$models/reasoner"
mkdir -p "$lc" "$rs"

bin="$("$repo/tools/llama_cpp/build.sh" | sed -n 's/^LLAMA_CPP_BIN=//p')"

if [ ! -f "$hf/model.safetensors" ]; then
    py=python3
    python3 -c 'import numpy, safetensors' 2>/dev/null || py="$repo/tools/golden/.venv/bin/python"
    "$py" "$repo/tools/speed/make_random_model.py" --shape "$shape" --out "$hf"
fi

stage="$lc/$shape-hf"
mkdir -p "$stage"
ln -sfn "$hf/config.json" "$stage/config.json"
ln -sfn "$hf/model.safetensors" "$stage/model.safetensors"
cp "$repo/tests/fixtures/qwen2_f32/tokenizer.json" "$repo/tests/fixtures/qwen2_f32/tokenizer_config.json" "$stage/"

f16="$lc/$shape.f16.gguf"
if [ ! -f "$f16" ]; then
    echo "converting $shape to $f16" >&2
    LLAMA_CPP_PRE_HASHES=16ac8c001382e7f706036904089f943d542cc7d6847888f6738cf9fa5222e311=qwen2 \
        "$repo/tools/llama_cpp/convert.sh" "$stage" "$f16.tmp" f16 >"$lc/$shape.convert.log" 2>&1 \
        || { tail -20 "$lc/$shape.convert.log" >&2; exit 1; }
    mv "$f16.tmp" "$f16"
fi
for q in Q8_0 Q4_K_M; do
    lq="$(tr 'A-Z' 'a-z' <<<"$q")"
    out="$lc/$shape.$lq.gguf"
    if [ ! -f "$out" ]; then
        echo "llama-quantize $q -> $out" >&2
        "$bin/llama-quantize" "$f16" "$out.tmp" "$q" 2 >"$lc/$shape.$lq.quantize.log" 2>&1 \
            || { tail -20 "$lc/$shape.$lq.quantize.log" >&2; exit 1; }
        mv "$out.tmp" "$out"
    fi
done

ours="$repo/target/release/reasoner"
[ -x "$ours" ] || (cd "$repo" && cargo build --release -q -p reasoner) || true
for q in q8_0 q4_k; do
    out="$rs/$shape.$q.gguf"
    [ -f "$out" ] && continue
    echo "reasoner quantize --to $q -> $out" >&2
    if ! "$ours" quantize --model "$stage" --to "$q" --out "$out.tmp" >"$rs/$shape.$q.log" 2>&1; then
        echo "note: reasoner quantize --to $q failed: $(tail -2 "$rs/$shape.$q.log" | tr '\n' ' ')" >&2
        rm -f "$out.tmp"
        continue
    fi
    mv "$out.tmp" "$out"
done
ls -l "$lc"/"$shape".*.gguf "$rs"/"$shape".*.gguf 2>/dev/null || true
