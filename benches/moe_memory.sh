#!/usr/bin/env bash
# A mixture of experts larger than the memory it is given: DeepSeek-V3-shaped random BF16 weights
# (tools/speed/make_random_deepseek.py, 4.6 GB) decoded under a cgroup-v1 memory limit (default
# 2 GiB), with the routed experts left in the file's memory map (--lazy-experts on) and copied into
# memory (off). Needs root and /sys/fs/cgroup/memory (cgroup v1); drops the page cache first so the
# lazy run pages its experts in from disk under the limit.
#
#   benches/moe_memory.sh [MODEL_DIR] [LIMIT_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:-bench-models/deepseek-v3-mini}"
LIMIT_MIB="${2:-2048}"
BIN="${REASONER:-target/release/reasoner}"
PY="${PYTHON:-python3}"
[ -d "$MODEL" ] || "$PY" tools/speed/make_random_deepseek.py --out "$MODEL"
CG=/sys/fs/cgroup/memory/reasoner-moe-bench
mkdir -p "$CG"
trap 'rmdir "$CG" 2>/dev/null || true' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" info -m "$MODEL" | grep -E "^(weights|read per token)"
for lazy in on off; do
    sync
    echo 1 > /proc/sys/vm/drop_caches
    echo $((LIMIT_MIB * 1024 * 1024)) > "$CG/memory.limit_in_bytes"
    echo 0 > "$CG/memory.max_usage_in_bytes"
    set +e
    out="$(sh -c "echo \$\$ > $CG/cgroup.procs; exec timeout 600 $BIN bench -m $MODEL --prompt-tokens 32 --gen-tokens 16 \
        --threads 2 --lazy-experts $lazy --no-roofline --json" 2>&1)"
    rc=$?
    set -e
    tok="$(grep -o '"decode_tok_s":[0-9.]*' <<<"$out" | cut -d: -f2)"
    rss="$(grep -o '"peak_rss_bytes":[0-9]*' <<<"$out" | cut -d: -f2)"
    echo "lazy-experts $lazy, limit ${LIMIT_MIB} MiB: exit $rc, decode ${tok:-none} tok/s, peak RSS ${rss:-?} B, cgroup peak $(cat "$CG/memory.max_usage_in_bytes") B"
done
