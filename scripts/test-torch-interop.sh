#!/usr/bin/env bash
# Trains tiny LMs in several variants (pre/post-LN, tied/untied, gelu/gelu_tanh/relu,
# global/local attention) and checks each checkpoint with scripts/torch_interop.py.
# Skips (exit 77) when PyTorch is not installed (it is a measuring stick, not a dependency:
# scripts/install-deps.sh --with-torch installs it).
# Usage: scripts/test-torch-interop.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tfm=$(cd "$1" && pwd)/tools/tfm
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "SKIP: PyTorch not installed (scripts/install-deps.sh --with-torch)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
python3 - <<'PY'
import random
random.seed(1)
words = "to be or not that is the question whether tis nobler in mind suffer".split()
lines = [" ".join(random.choice(words) for _ in range(random.randint(3, 12))) for _ in range(3000)]
open("train.txt", "w").write("\n".join(lines[:2700]) + "\n")
open("heldout.txt", "w").write("\n".join(lines[2700:]) + "\n")
PY
cat > base.json <<'JSON'
{"model": {"type": "lm", "n_layer": 2, "n_head": 2, "d_model": 32, "d_ff": 64, "seq_len": 24},
 "tokenizer": {"type": "char"},
 "data": {"train": ["train.txt"], "val_fraction": 0.1},
 "optim": {"lr": 0.005},
 "train": {"batch_size": 8, "max_steps": 40, "eval_every": 40, "eval_batches": 2, "log_every": 40}}
JSON
variants=(
  ""
  "--set model.norm=post --set model.tie_embeddings=false"
  "--set model.activation=gelu_tanh --set model.attention_window=5"
  "--set model.activation=relu --set tokenizer.type=word --set model.layer_norm_eps=1e-6"
  "--set tokenizer.type=byte --set model.attention_window=7 --set model.norm=post"
)
i=0
for v in "${variants[@]}"; do
  i=$((i + 1))
  # shellcheck disable=SC2086
  "$tfm" train base.json $v --out "run$i" --quiet > /dev/null
  echo "variant $i: ${v:-default}"
  /usr/bin/python3 "$root/scripts/torch_interop.py" "run$i/checkpoints/last.safetensors" heldout.txt --tfm "$tfm"
done
