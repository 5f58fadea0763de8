#!/usr/bin/env bash
# Trains tiny models of every type in several variants and checks each checkpoint with
# scripts/torch_interop.py (PyTorch models written from docs/checkpoint-format.md, strict loading,
# mean per-token NLL within a relative 2e-4 of tfm's):
# - lm: pre/post-LN, tied/untied, gelu/gelu_tanh/relu, global/local attention, char/word/byte tokens,
#   and the modern blocks (RMSNorm, rotary/sinusoidal/no positions, SwiGLU, grouped-query and
#   multi-query attention, no biases), and the adaptive softmax head (model.head, loaded into PyTorch's
#   nn.AdaptiveLogSoftmaxWithLoss, its NLL within a relative 1e-6), on a held-out text
#   (`tfm perplexity CHECKPOINT TEXT`);
# - transformer: post-/pre-LN, shared/separate source and target embeddings, tied/untied output,
#   relu/gelu/gelu_tanh, unequal encoder and decoder depths;
# - rnn-attention: dot/general/concat scores, global/local-m/local-p/none, with and without input feeding,
#   tied/untied output;
#   both teacher-forced on held-out sentence pairs (`tfm perplexity CHECKPOINT --source S --target T`)
#   and greedy translations (`tfm translate --beam 1`) against PyTorch's greedy decoding.
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
/usr/bin/python3 - <<'PY'
import random
random.seed(1)
words = "to be or not that is the question whether tis nobler in mind suffer".split()
lines = [" ".join(random.choice(words) for _ in range(random.randint(3, 12))) for _ in range(3000)]
open("train.txt", "w").write("\n".join(lines[:2700]) + "\n")
open("heldout.txt", "w").write("\n".join(lines[2700:]) + "\n")
# Parallel text: the target is the source translated word by word in reverse order, so that the
# decoder must attend; 2-9 words, so that a few pairs exceed seq_len (24 pieces) and are cut.
src = "red blue green big small dog cat bird runs eats sees jumps the a old young".split()
tgt = "rot blau gruen gross klein hund katze vogel laeuft isst sieht springt der ein alt jung".split()
meaning = dict(zip(src, tgt))
for name, n in (("train", 1500), ("val", 40), ("heldout", 60)):
    pairs = [[random.choice(src) for _ in range(random.randint(2, 9))] for _ in range(n)]
    open(name + ".src", "w").write("".join(" ".join(p) + "\n" for p in pairs))
    open(name + ".tgt", "w").write("".join(" ".join(meaning[w] for w in reversed(p)) + "\n" for p in pairs))
PY
cat > lm.json <<'JSON'
{"model": {"type": "lm", "n_layer": 2, "n_head": 2, "d_model": 32, "d_ff": 64, "seq_len": 24},
 "tokenizer": {"type": "char"},
 "data": {"train": ["train.txt"], "val_fraction": 0.1},
 "optim": {"lr": 0.005},
 "train": {"batch_size": 8, "max_steps": 40, "eval_every": 40, "eval_batches": 2, "log_every": 40}}
JSON
cat > transformer.json <<'JSON'
{"model": {"type": "transformer", "n_layer": 2, "n_head": 2, "d_model": 32, "d_ff": 64, "seq_len": 24},
 "tokenizer": {"type": "sentencepiece", "vocab_size": 80},
 "data": {"train": {"source": "train.src", "target": "train.tgt"}, "val": {"source": "val.src", "target": "val.tgt"}},
 "optim": {"lr": 0.005, "label_smoothing": 0.1},
 "train": {"batch_tokens": 400, "max_steps": 100, "eval_every": 100, "log_every": 100, "eval_bleu": false}}
JSON
cat > rnn.json <<'JSON'
{"model": {"type": "rnn-attention", "d_model": 32, "seq_len": 24, "dropout": 0.1, "attention": {"window": 2}},
 "tokenizer": {"type": "sentencepiece", "vocab_size": 80},
 "data": {"train": {"source": "train.src", "target": "train.tgt"}, "val": {"source": "val.src", "target": "val.tgt"}},
 "optim": {"lr": 0.03},
 "train": {"batch_tokens": 400, "max_steps": 150, "eval_every": 150, "log_every": 150, "eval_bleu": false}}
JSON
# config|overrides[|tolerance]
variants=(
  "lm|"
  "lm|--set model.norm=post --set model.tie_embeddings=false"
  "lm|--set model.activation=gelu_tanh --set model.attention_window=5"
  "lm|--set model.activation=relu --set tokenizer.type=word --set model.layer_norm_eps=1e-6"
  "lm|--set tokenizer.type=byte --set model.attention_window=7 --set model.norm=post"
  "lm|--set model.norm=rmsnorm --set model.pos_emb=rope --set model.ffn=swiglu --set model.n_head=4 --set model.n_kv_head=2 --set model.bias=false --set model.layer_norm_eps=0.1"
  "lm|--set model.norm=rmsnorm --set model.norm_placement=post --set model.pos_emb=sinusoidal --set model.n_head=4 --set model.n_kv_head=1 --set model.attention_window=5 --set model.tie_embeddings=false"
  "lm|--set model.pos_emb=rope --set model.rope_theta=500 --set model.bias=false --set model.activation=relu --set tokenizer.type=word"
  "lm|--set model.pos_emb=none --set model.ffn=swiglu --set model.layer_norm_eps=1e-3"
  "lm|--set model.head.type=adaptive --set model.head.cutoffs=[4,10] --set model.head.div_value=3.2 --set model.head.head_bias=true|1e-6"
  "lm|--set model.head.type=adaptive --set model.head.cutoffs=[5] --set tokenizer.type=word --set model.norm=rmsnorm --set model.pos_emb=rope|1e-6"
  "transformer|"
  "transformer|--set model.norm=pre --set model.activation=gelu --set model.n_decoder_layers=1 --set model.tie_embeddings=false --set model.layer_norm_eps=1e-6"
  "transformer|--set model.share_embeddings=false --set model.tie_embeddings=false --set model.activation=gelu_tanh"
  "transformer|--set model.share_embeddings=false --set model.norm=pre --set model.n_head=4 --set model.n_encoder_layers=1"
  "rnn|"
  "rnn|--set model.attention.score=general --set model.tie_embeddings=false"
  "rnn|--set model.attention.score=concat"
  "rnn|--set model.attention.type=local-m --set model.attention.score=general"
  "rnn|--set model.attention.type=local-p --set model.attention.score=concat --set model.attention.window=3"
  "rnn|--set model.attention.type=local-p --set model.input_feeding=false"
  "rnn|--set model.attention.type=none --set model.input_feeding=false"
)
i=0
for entry in "${variants[@]}"; do
  i=$((i + 1))
  config=${entry%%|*}
  rest=${entry#*|}
  v=${rest%%|*}
  tolerance=()
  if [[ $rest == *"|"* ]]; then tolerance=(--tolerance "${rest#*|}"); fi
  # shellcheck disable=SC2086
  "$tfm" train "$config.json" $v --out "run$i" --quiet > /dev/null
  echo "variant $i: $config ${v:-default}"
  checkpoint="run$i/checkpoints/last.safetensors"
  if [[ $config == lm ]]; then
    /usr/bin/python3 "$root/scripts/torch_interop.py" "$checkpoint" heldout.txt --tfm "$tfm" "${tolerance[@]}"
  else
    /usr/bin/python3 "$root/scripts/torch_interop.py" "$checkpoint" --source heldout.src --target heldout.tgt \
      --greedy --tfm "$tfm"
  fi
done
