#!/usr/bin/env bash
# Training speed beside PyTorch (CPU, f32, same model, batch, sequence length and threads):
# a ~10M-parameter Qwen2-shaped model (hidden 384, 6 layers, vocab 1024) trained for STEPS steps
# of BATCH x SEQ tokens by `reasoner train pretrain` and by PyTorch eager (transformers' Qwen2).
# Builds its own venv with torch from PyPI (benches/.venv-torch, git-ignored).
#   benches/train_speed.sh            THREADS=2 STEPS=8 BATCH=8 SEQ=256
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${THREADS:-2}" STEPS="${STEPS:-8}" BATCH="${BATCH:-8}" SEQ="${SEQ:-256}"
venv=benches/.venv-torch
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q torch==2.15.0 transformers==5.24.0 tokenizers==0.23.3 safetensors
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cargo build --release -q -p reasoner
bin=target/release/reasoner
# Tokenizer and corpus: the tiny-r1 recipe's own, made by the first two stages.
$bin recipe tiny-r1 --out "$work/r" --stop-after tokenizer >/dev/null
cat > "$work/config.json" <<JSON
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 1024, "hidden_size": 384,
 "intermediate_size": 1152, "num_hidden_layers": 6, "num_attention_heads": 6, "num_key_value_heads": 2,
 "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
 "tie_word_embeddings": true, "bos_token_id": 0, "eos_token_id": 1}
JSON
cat > "$work/run.toml" <<TOML
kind = "pretrain"
out = "run"
[model]
init = "config.json"
tokenizer = "$work/r/tokenizer"
[data]
train = "$work/r/data/pretrain.txt"
max_seq_len = $SEQ
[optim]
steps = $((STEPS + 1))
batch_size = $BATCH
lr = 1e-3
min_lr = 1e-3
beta2 = 0.95
weight_decay = 0.1
[checkpoint]
every = 0
TOML
$bin train pretrain --threads "$THREADS" --config "$work/run.toml" --quiet
"$venv/bin/python" - "$work" <<'PY'
import json, sys
from tokenizers import Tokenizer
w = sys.argv[1]
tok = Tokenizer.from_file(f"{w}/r/tokenizer/tokenizer.json")
ids = tok.encode(open(f"{w}/r/data/pretrain.txt").read()[:1500000]).ids
json.dump(ids, open(f"{w}/ids.json", "w"))
PY
ours=$("$venv/bin/python" - "$work/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][1:]   # step 1 warms up
tok = sum(r["tokens"] for r in rows); t = sum(r["tokens"] / r["tokens_per_s"] for r in rows)
print(json.dumps({"tokens_per_s": tok / t, "forward_s": sum(r["time_forward_s"] for r in rows),
                  "backward_s": sum(r["time_backward_s"] for r in rows), "optimizer_s": sum(r["time_optimizer_s"] for r in rows)}))
PY
)
theirs=$("$venv/bin/python" benches/train/torch_train_speed.py "$work/config.json" "$work/ids.json" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --threads "$THREADS")
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads $THREADS, batch $BATCH x $SEQ tokens, $STEPS steps"
echo "reasoner: $ours"
echo "pytorch:  $theirs"
"$venv/bin/python" - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"ratio (reasoner / pytorch tokens/s): {a['tokens_per_s'] / b['tokens_per_s']:.2f}")
PY
