#!/usr/bin/env bash
# Compile tools/llama_cpp/logprobs.cpp against the static llama.cpp libraries that
# tools/llama_cpp/build.sh built; writes $LLAMA_CPP_DIR/build/bin/llama-logprobs and prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${LLAMA_CPP_DIR:-$HOME/.cache/reasoner/llama.cpp}"
"$here/build.sh" >/dev/null
out="$DIR/build/bin/llama-logprobs"
if [ ! -x "$out" ] || [ "$here/logprobs.cpp" -nt "$out" ]; then
    b="$DIR/build"
    ${CXX:-g++} -O2 -std=c++17 -march=native -fopenmp \
        -I"$DIR/src/include" -I"$DIR/src/ggml/include" \
        "$here/logprobs.cpp" -o "$out" \
        "$b/src/libllama.a" "$b/ggml/src/libggml.a" "$b/ggml/src/libggml-cpu.a" "$b/ggml/src/libggml-base.a" \
        -lpthread -ldl -lm
fi
echo "$out"
