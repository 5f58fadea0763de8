#!/usr/bin/env bash
# A corpus several times larger than the memory a process may use trains
# (tools/data/token_cache.h, docs/data.md): `tfm prepare` tokenizes ~300 MB of
# generated text and `tfm train` runs a few steps on it, both under `ulimit -v`
# with room for far less than the corpus above what the binary needs anyway.
#
# The limit, honestly chosen: `ulimit -v` caps address space, not resident
# memory, and tfm reserves much address space it never touches (OpenMP and
# oneDNN thread pools, glibc's per-thread malloc arenas, the binary's own
# libraries). So the script first measures the peak virtual size (VmPeak) of
# the same two commands on a small corpus (8 MB, so that both threads tokenize
# and get their malloc arenas) with the same model and settings (the baseline, each command its own), then allows each big run its baseline
# plus HEADROOM_MB (100 MB), a third of the corpus. The prepared token file (a word tokenizer:
# 2 bytes per ~10-byte word, ~60 MB) is mapped whole by training, so it lives
# within that headroom; the text never is held whole. Reading the whole text
# into memory, as tfm did before token files, needs the corpus' 300 MB and
# more: under this limit it came up short without an error (core/io.h
# read_file's stream stops at a failed allocation) and trained on a fraction
# of the corpus, which the token count check at the end catches.
#
# Usage: scripts/test-large-corpus.sh BUILD_DIR   (ctest: LargeCorpus.*, label "large")
set -euo pipefail
build=${1:?usage: test-large-corpus.sh BUILD_DIR}
tfm=$(cd "$build" && pwd)/tools/tfm
corpus_mb=${TFM_LARGE_CORPUS_MB:-300}
headroom_mb=${TFM_LARGE_HEADROOM_MB:-100}
work=$(mktemp -d "${TMPDIR:-/tmp}/tfm-large-corpus-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# ~1 MB block of lines of 2,000 pseudo-words (9 letters), repeated to the corpus size.
perl -e 'srand(7); my @w = map { join "", map { chr(97 + int(rand(26))) } 1..9 } 1..2000;
         my $s = ""; while (length($s) < 1000000) { $s .= join(" ", map { $w[int(rand(@w))] } 1..(3 + int(rand(12)))) . "\n" }
         print $s' > block.txt
: > corpus.txt
for _ in $(seq "$corpus_mb"); do cat block.txt; done >> corpus.txt
head -c 8000000 corpus.txt > tiny.txt  # 8 MB: enough pieces that every thread tokenizes (and mallocs)
tail -c 20000 block.txt > val.txt

config() {  # config FILE CORPUS
  cat > "$1" <<EOF
{"model": {"type": "lm", "n_layer": 1, "d_model": 32, "n_head": 2, "seq_len": 32},
 "tokenizer": {"type": "word"},
 "data": {"train": ["$2"], "val": ["val.txt"], "cache_dir": "cache-$2"},
 "train": {"batch_size": 4, "max_steps": 3, "eval_every": 3, "eval_batches": 1, "checkpoint_every": 3, "threads": 2}}
EOF
}
config tiny.json tiny.txt
config big.json corpus.txt

# Peak virtual size (kB) of a command, polled from /proc while it runs.
peak_kb() {
  "$@" > /dev/null 2> peak.err &
  local pid=$! peak=0 v
  while kill -0 "$pid" 2> /dev/null; do
    v=$(awk '/^VmPeak:/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
    [[ -n "$v" && "$v" -gt "$peak" ]] && peak=$v
    sleep 0.02
  done
  wait "$pid" || { echo "error: baseline run failed: $*" >&2; cat peak.err >&2; exit 1; }
  echo "$peak"
}
base_prepare=$(peak_kb "$tfm" prepare tiny.json)
base_train=$(peak_kb "$tfm" train tiny.json --quiet --out run-tiny)
corpus_kb=$(( $(stat -c %s corpus.txt) / 1024 ))
(( corpus_kb > 2 * headroom_mb * 1024 )) || { echo "error: the corpus is not larger than the headroom" >&2; exit 1; }
echo "corpus ${corpus_kb} kB; baseline VmPeak: prepare ${base_prepare} kB, train ${base_train} kB;" \
     "each runs with its baseline + ${headroom_mb} MB"
( ulimit -v $(( base_prepare + headroom_mb * 1024 )); "$tfm" prepare big.json > prepare.out )
( ulimit -v $(( base_train + headroom_mb * 1024 )); "$tfm" train big.json --quiet --out run-big > train.out )
cat prepare.out
grep -q "data.train: prepared" prepare.out
grep -q "^steps: 3$" train.out
# Training saw every token prepared (reading the text whole under this limit once came up short
# without an error: a stream's failed allocation is silent).
tokens_prepared=$(sed -n 's/^data.train: prepared \([0-9]*\) tokens.*/\1/p' prepare.out)
grep -q ", $tokens_prepared train / 2238 val tokens" run-big/train.log || {
  echo "error: training did not see the $tokens_prepared prepared tokens:" >&2; grep -h "train / " run-big/train.log >&2; exit 1; }
grep -q "data.train: up to date, $tokens_prepared tokens" run-big/train.log  # mapped what tfm prepare made
tokens=$(ls cache-corpus.txt/*.train.tokens)
echo "token file: $(( $(stat -c %s "$tokens") / 1024 )) kB; trained 3 steps within the limit"
