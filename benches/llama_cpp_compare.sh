#!/usr/bin/env bash
# Speed of `reasoner bench` beside llama.cpp's llama-bench on the same GGUF file.
#
#   benches/llama_cpp_compare.sh MODEL.gguf [THREADS=2]
#
# Builds llama.cpp with tools/llama_cpp/build.sh when it is missing (once, ~15 min on 2 cores),
# builds target/release/reasoner when missing, then prints four lines:
#   load      the load average
#   llama.cpp {"prefill_tok_s","decode_tok_s","weights_bytes","threads",...}   (llama-bench -o json)
#   reasoner  {reasoner bench --json line}   or   reasoner  ERROR <its stderr>
#   ratio     ours/llama.cpp prefill X decode Y weight_bytes Z
# Both use -p/--prompt-tokens 128 and -n/--gen-tokens 64 (PROMPT_TOKENS / GEN_TOKENS override),
# llama-bench and reasoner bench with 5 repetitions each (REPS); both report their best
# repetition (llama-bench's mean/stddev are printed too). llama-bench runs with its defaults
# otherwise (f16 KV cache, flash attention auto, weight repacking on). The load average is
# printed: on a shared 2-core machine other work skews both figures.
# DEPTH=N compares decoding after an N-token context instead (long reasoning traces):
# llama-bench -p 0 -n GEN_TOKENS -d N beside reasoner bench --prompt-tokens N; the prefill
# ratio is then n/a (llama-bench times only the decode).
# OURS_MODEL=DIR runs ours on another form of the same weights (the HF bf16/f16 directory the GGUF
# was converted from); OURS_ARGS adds flags to ours (e.g. OURS_ARGS="--quantize q8_0").
# Exit status is 0 when llama.cpp ran, even if reasoner failed (so its error shows beside the peer);
# when llama.cpp cannot load the file (e.g. a GGUF of ours it rejects) its error is printed, ours
# still runs, and the exit status is 1.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
[ $# -ge 1 ] || { sed -n '2,19p' "$0" >&2; exit 2; }
model="$1"; threads="${2:-2}"
pp="${PROMPT_TOKENS:-128}"; tg="${GEN_TOKENS:-64}"; reps="${REPS:-5}"; depth="${DEPTH:-0}"
llama_args=(-p "$pp" -n "$tg")
if [ "$depth" -gt 0 ]; then
    llama_args=(-p 0 -n "$tg" -d "$depth"); pp="$depth"
fi
[ -f "$model" ] || { echo "no such file: $model" >&2; exit 2; }

bin="$("$repo/tools/llama_cpp/build.sh" --print | sed -n 's/^LLAMA_CPP_BIN=//p')"
if [ ! -x "$bin/llama-bench" ]; then
    "$repo/tools/llama_cpp/build.sh" >/dev/null || { echo "llama.cpp build failed" >&2; exit 1; }
fi

tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# llama.cpp
echo "load      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) on $(nproc) cores"
llama_ok=1
if ! "$bin/llama-bench" -m "$model" -t "$threads" "${llama_args[@]}" -r "$reps" -o json >"$tmp/llama.json" 2>"$tmp/llama.err"; then
    echo "llama.cpp ERROR $(grep -E 'error|failed' "$tmp/llama.err" | tail -3 | tr '\n' ' ')"
    llama_ok=0
    llama_line='{}'
else
llama_line="$(python3 - "$tmp/llama.json" "$pp" "$tg" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
pp, tg = int(sys.argv[2]), int(sys.argv[3])
out = {"prompt_tokens": pp, "gen_tokens": tg}
# prefill/decode_tok_s = the best repetition (reasoner bench reports its best run too);
# llama-bench's own mean and stddev are kept beside them.
for r in rows:
    key = "prefill" if (r["n_prompt"] == pp and r["n_gen"] == 0) else "decode" if (r["n_prompt"] == 0 and r["n_gen"] == tg) else None
    if key:
        out[f"{key}_tok_s"] = max(r.get("samples_ts") or [r["avg_ts"]])
        out[f"{key}_mean_tok_s"] = r["avg_ts"]
        out[f"{key}_stddev"] = r["stddev_ts"]
r = rows[0]
out.update(weights_bytes=r["model_size"], n_params=r["model_n_params"], threads=r["n_threads"],
           model_type=r.get("model_type"), kv=f'{r.get("type_k")}/{r.get("type_v")}', flash_attn=r.get("flash_attn"), depth=r.get("n_depth"),
           cpu=r.get("cpu_info"), build=r.get("build_commit"))
print(json.dumps(out))
PY
)"
echo "llama.cpp $llama_line"
fi

# reasoner
ours="${REASONER_BIN:-$repo/target/release/reasoner}"   # REASONER_BIN: another build (before/after)
if [ ! -x "$ours" ]; then
    (cd "$repo" && cargo build --release -q -p reasoner 2>"$tmp/cargo.err")
fi
ours_line=""
if [ -x "$ours" ]; then
    # OURS_MODEL: our side reads another form of the same weights (an HF directory beside
    # llama.cpp's GGUF of it); OURS_ARGS: extra flags (e.g. `--quantize q8_0`).
    run_ours() {
        # shellcheck disable=SC2086
        RAYON_NUM_THREADS="$threads" "$ours" bench --model "${OURS_MODEL:-$model}" --prompt-tokens "$pp" \
            --gen-tokens "$tg" ${OURS_ARGS:-} "$@" --json
    }
    if ! run_ours --threads "$threads" --repeats "$reps" >"$tmp/ours.out" 2>"$tmp/ours.err"; then
        # older binaries: no --threads (thread count from RAYON_NUM_THREADS) or no --repeats
        if grep -q -- "unexpected argument" "$tmp/ours.err"; then
            run_ours --repeats "$reps" >"$tmp/ours.out" 2>"$tmp/ours.err" || run_ours >"$tmp/ours.out" 2>"$tmp/ours.err"
        fi
    fi
    ours_line="$(grep -m1 '^{' "$tmp/ours.out" || true)"
fi
if [ -n "$ours_line" ] && [ "$llama_ok" = 1 ]; then
    echo "reasoner  $ours_line"
    python3 - "$llama_line" "$ours_line" <<'PY'
import json, sys
l, o = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def ratio(k):
    a, b = o.get(k), l.get(k)
    return f"{a / b:.3f}" if a is not None and b else "n/a"
print(f"ratio     ours/llama.cpp prefill {ratio('prefill_tok_s')} decode {ratio('decode_tok_s')} "
      f"weight_bytes {ratio('weights_bytes')}")
PY
elif [ -n "$ours_line" ]; then
    echo "reasoner  $ours_line"
    echo "ratio     n/a"
else
    err="$(cat "$tmp/ours.err" "$tmp/cargo.err" 2>/dev/null | grep -v '^\s*$' | tail -3 | tr '\n' ' ')"
    echo "reasoner  ERROR ${err:-no JSON line from $ours}"
    echo "ratio     n/a"
fi
exit $(( llama_ok ? 0 : 1 ))
