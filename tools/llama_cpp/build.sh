#!/usr/bin/env bash
# Build llama.cpp's CPU tools (the speed/format peer, see /work/shared/DESIGN.md) from the
# llama.cpp that PyPI's `llama-cpp-python` source package vendors. Nothing here is committed:
# everything lives in a cache directory outside the repository.
#
#   tools/llama_cpp/build.sh            # build (or reuse) into $LLAMA_CPP_DIR
#   tools/llama_cpp/build.sh --print    # only print where things are (KEY=VALUE lines)
#
# Environment:
#   LLAMA_CPP_DIR              cache dir (default ~/.cache/reasoner/llama.cpp)
#   LLAMA_CPP_PYTHON_VERSION   pin the llama-cpp-python sdist (default: newest on PyPI)
#   PYTHON                     python3 used for pip/venv (default python3)
#   JOBS                       build parallelism (default 2)
#
# Layout of $LLAMA_CPP_DIR:
#   sdist/llama_cpp_python-*.tar.gz   the downloaded source package
#   src/                              vendor/llama.cpp from it (convert_hf_to_gguf.py, gguf-py/)
#   build/bin/llama-{bench,quantize,perplexity,simple,completion,tokenize}
#   tools-venv/                       cmake + ninja from pip (only when not on PATH)
#   VERSION                           llama-cpp-python version + llama.cpp commit (from its CHANGELOG)
#   env.sh                            `source` it: LLAMA_CPP_BIN, LLAMA_CPP_SRC, LLAMA_CPP_CONVERT,
#                                     LLAMA_CPP_GGUF_PY (put it first on PYTHONPATH when converting)
# Idempotent: if all binaries exist it only prints the paths.
set -euo pipefail

DIR="${LLAMA_CPP_DIR:-$HOME/.cache/reasoner/llama.cpp}"
PY="${PYTHON:-python3}"
JOBS="${JOBS:-2}"
# llama-completion is the classic one-shot CLI (`-p TEXT -n N`); in this llama.cpp `llama-cli` is the
# interactive chat app and is only defined with LLAMA_BUILD_SERVER (web UI assets), so it is skipped.
TARGETS=(llama-bench llama-quantize llama-perplexity llama-simple llama-completion llama-tokenize)
BIN="$DIR/build/bin"

print_env() {
    echo "LLAMA_CPP_DIR=$DIR"
    echo "LLAMA_CPP_BIN=$BIN"
    echo "LLAMA_CPP_SRC=$DIR/src"
    echo "LLAMA_CPP_CONVERT=$DIR/src/convert_hf_to_gguf.py"
    echo "LLAMA_CPP_GGUF_PY=$DIR/src/gguf-py"
    [ -f "$DIR/VERSION" ] && sed 's/^/# /' "$DIR/VERSION" || true
}

all_built() {
    local t
    for t in "${TARGETS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
}

if [ "${1:-}" = "--print" ]; then print_env; exit 0; fi
if all_built; then
    echo "llama.cpp already built in $DIR" >&2
    print_env
    exit 0
fi

mkdir -p "$DIR"

# 1. source: llama-cpp-python sdist -> vendor/llama.cpp
if [ ! -f "$DIR/src/CMakeLists.txt" ]; then
    mkdir -p "$DIR/sdist"
    spec="llama-cpp-python${LLAMA_CPP_PYTHON_VERSION:+==$LLAMA_CPP_PYTHON_VERSION}"
    if ! ls "$DIR"/sdist/llama_cpp_python-*.tar.gz >/dev/null 2>&1; then
        echo "downloading $spec source package" >&2
        # `--no-binary :all:` would also apply to the build backend's own dependencies (pip then
        # builds cmake from source to read the metadata); only llama-cpp-python must be a source
        # package, its build helpers (scikit-build-core, cmake) may come as wheels.
        "$PY" -m pip download --no-deps --no-binary llama-cpp-python "$spec" -d "$DIR/sdist" >&2
    fi
    tarball="$(ls "$DIR"/sdist/llama_cpp_python-*.tar.gz | sort -V | tail -1)"
    tmp="$DIR/unpack.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    tar -xzf "$tarball" -C "$tmp"
    top="$(ls -d "$tmp"/llama_cpp_python-* | head -1)"
    [ -f "$top/vendor/llama.cpp/CMakeLists.txt" ] || { echo "no vendor/llama.cpp in $tarball" >&2; exit 1; }
    rm -rf "$DIR/src"
    mv "$top/vendor/llama.cpp" "$DIR/src"
    rm -f "$DIR/src/.git"   # a submodule pointer into llama-cpp-python's repo; dangling here
    ver="$(basename "$top" | sed 's/^llama_cpp_python-//')"
    # llama-cpp-python's CHANGELOG names the llama.cpp commit each release vendors
    commit="$(grep -m1 -oE 'llama\.cpp@[0-9a-f]{7,40}' "$top/CHANGELOG.md" 2>/dev/null | sed 's/.*@//' || true)"
    {
        echo "llama-cpp-python $ver ($(basename "$tarball"), sha256 $(sha256sum "$tarball" | cut -d' ' -f1))"
        echo "llama.cpp commit ${commit:-unknown} (first llama.cpp@ entry in llama-cpp-python's CHANGELOG.md)"
    } > "$DIR/VERSION"
    rm -rf "$tmp"
fi

# 2. cmake + ninja (pip, into a venv) when not on PATH
if ! command -v cmake >/dev/null 2>&1 || ! command -v ninja >/dev/null 2>&1; then
    if [ ! -x "$DIR/tools-venv/bin/cmake" ] || [ ! -x "$DIR/tools-venv/bin/ninja" ]; then
        echo "installing cmake + ninja from pip into $DIR/tools-venv" >&2
        "$PY" -m venv "$DIR/tools-venv"
        "$DIR/tools-venv/bin/pip" install -q cmake ninja >&2
    fi
    export PATH="$DIR/tools-venv/bin:$PATH"
fi

# 3. configure + build only the tools we need (CPU, native, Release)
src="$DIR/src"
echo "configuring llama.cpp in $DIR/build ($(head -1 "$DIR/VERSION"))" >&2
commit="$(sed -n 's/^llama.cpp commit \([0-9a-f]*\).*/\1/p' "$DIR/VERSION")"
cmake -S "$src" -B "$DIR/build" -G Ninja \
    ${commit:+-DLLAMA_BUILD_COMMIT="$commit"} \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DGGML_OPENCL=OFF \
    -DLLAMA_CURL=OFF \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF >&2

# keep only targets this llama.cpp version defines
have=()
targets_list="$(ninja -C "$DIR/build" -t targets all 2>/dev/null | cut -d: -f1)"
for t in "${TARGETS[@]}"; do
    if grep -qx "$t" <<<"$targets_list"; then have+=("$t"); else echo "no target $t in this llama.cpp" >&2; exit 1; fi
done
cmake --build "$DIR/build" --config Release -j "$JOBS" --target "${have[@]}" >&2

for t in "${have[@]}"; do [ -x "$BIN/$t" ] || { echo "missing $BIN/$t after build" >&2; exit 1; }; done
print_env | sed 's/^\([A-Z]\)/export \1/' > "$DIR/env.sh"
echo "built: ${have[*]}" >&2
print_env
