#!/usr/bin/env bash
# Installs tfm from a build tree into a temporary prefix, builds one of
# examples/ against the installed package (find_package(tfm)) and runs it:
#   custom_layer    trains a model with the example's own "gated_ffn" layer from a JSON config
#   train_from_cpp  trains a model defined in C++ with the Trainer and callbacks, saves and reloads it
# Usage: scripts/test-example.sh EXAMPLE BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
example=${1:?usage: scripts/test-example.sh EXAMPLE BUILD_DIR}
build=$(cd "${2:?usage: scripts/test-example.sh EXAMPLE BUILD_DIR}" && pwd)
[ -d "$root/examples/$example" ] || { echo "error: no example examples/$example" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The example is built with the compiler and flags of the build tree it links
# against: a sanitized libtfm (the asan-ubsan preset) needs the sanitizer
# runtimes and clang's libomp at link time too.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cmake -S "$root/examples/$example" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER="$(cache CMAKE_CXX_COMPILER)" \
      -DCMAKE_CXX_FLAGS="$(cache CMAKE_CXX_FLAGS)" \
      -DCMAKE_EXE_LINKER_FLAGS="$(cache CMAKE_EXE_LINKER_FLAGS)" >/dev/null
cmake --build "$work/build" >/dev/null
cd "$work"
case "$example" in
  custom_layer)
    # A small corpus of its own: the example must not depend on ../shared.
    awk 'BEGIN {
      srand(0)
      n = split("the quick brown fox jumps over a lazy dog while seven wise owls watch", words, " ")
      for (line = 0; line < 1500; ++line) {
        s = ""
        for (i = 0; i < 8; ++i) s = s (i ? " " : "") words[1 + int(rand() * n)]
        print s "."
      }
    }' > train.txt
    cp "$root/examples/custom_layer/config.json" .
    ./build/custom_train config.json --out run | tee log.txt
    grep -q '"gated_ffn"' run/config.json
    grep -a -q 'blocks.0.ffn.gate.weight' run/checkpoints/last.safetensors
    # The plain tfm binary does not know the layer: a clear error, exit code 2.
    set +e
    "$build/tools/tfm" inspect run/checkpoints/last.safetensors 2> err.txt
    code=$?
    set -e
    [ "$code" -eq 2 ] && grep -q 'unknown layer "gated_ffn"' err.txt
    grep -q "best val loss" log.txt
    ;;
  train_from_cpp)
    ./build/train_from_cpp run | tee log.txt
    # The callback stopped it before max_steps (400), and the run directory is a real one.
    steps=$(sed -n 's/^trained \([0-9]*\) steps.*/\1/p' log.txt)
    [ -n "$steps" ] && [ "$steps" -lt 400 ] || { echo "error: the callback did not stop the run ($steps steps)" >&2; exit 1; }
    [ -s run/checkpoints/last.safetensors ] && [ -s run/metrics.jsonl ] && [ -s run/config.json ]
    # A stop asked for by a callback ends the run as a signal does: "interrupted", with a checkpoint.
    grep -q '"status":"interrupted"\|"status": "interrupted"' run/run.json
    # The saved model is an ordinary checkpoint: the tfm binary scores it.
    printf 'three four five six.\nfour five six seven.\n' > heldout.txt
    "$build/tools/tfm" perplexity run/model.safetensors heldout.txt
    ;;
  *) echo "error: no check for example $example" >&2; exit 2 ;;
esac
echo "example $example: OK"
