#!/usr/bin/env bash
# Builds the asan-ubsan preset (GCC, -O1, AddressSanitizer with leak detection,
# UBSan with no recovery) into build/asan-ubsan and runs the whole test suite
# under it. Leaks inside third-party runtimes (OpenMPI, oneDNN's JIT, the
# OpenMP thread pool) are suppressed in tests/sanitizers/lsan.supp; tfm's own
# code has no suppression.
# Usage: scripts/test-sanitizers.sh [extra ctest arguments, e.g. -R Safetensors]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cmake --preset asan-ubsan >/dev/null
cmake --build build/asan-ubsan
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=0:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
ctest --test-dir build/asan-ubsan --output-on-failure -j2 --timeout 900 "$@"
