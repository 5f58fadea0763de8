#!/usr/bin/env bash
# Installs tfm from a build tree into a temporary prefix, builds
# examples/custom_layer against the installed package (find_package(tfm)),
# and trains its model with the custom "gated_ffn" layer for a few steps.
# Usage: scripts/test-custom-layer.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
# The example is built with the compiler and flags of the build tree it links
# against: a sanitized libtfm (the asan-ubsan preset) needs the sanitizer
# runtimes and clang's libomp at link time too.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cmake -S "$root/examples/custom_layer" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER="$(cache CMAKE_CXX_COMPILER)" \
      -DCMAKE_CXX_FLAGS="$(cache CMAKE_CXX_FLAGS)" \
      -DCMAKE_EXE_LINKER_FLAGS="$(cache CMAKE_EXE_LINKER_FLAGS)" >/dev/null
cmake --build "$work/build" >/dev/null
# A small corpus of its own: the example must not depend on ../shared.
awk 'BEGIN {
  srand(0)
  n = split("the quick brown fox jumps over a lazy dog while seven wise owls watch", words, " ")
  for (line = 0; line < 1500; ++line) {
    s = ""
    for (i = 0; i < 8; ++i) s = s (i ? " " : "") words[1 + int(rand() * n)]
    print s "."
  }
}' > "$work/train.txt"
cd "$work"
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
echo "custom layer example: OK"
