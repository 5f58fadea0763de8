#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite (what CI
# runs, .ci/run): installs the dependencies (PyTorch too, for the interop
# check), builds Release and runs every test, then builds the asan-ubsan preset
# (clang, AddressSanitizer, LeakSanitizer, UBSan) and runs the suite again
# under it, then runs each fuzz target for 100000 executions from a fixed seed
# (the same run every time for one commit). Prints each stage's start time.
# Usage: scripts/test.sh [--release-only]
#   --release-only  stop after the Release suite (a quicker local check)
set -euo pipefail
cd "$(dirname "$0")/.."
release_only=0
for arg in "$@"; do
  case "$arg" in
    --release-only) release_only=1 ;;
    *) echo "error: unknown option $arg (expected --release-only)" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
stage() { printf '\n== %s (%s, %d s in)\n' "$1" "$(date -u +%H:%M:%S)" "$(($(date +%s) - start))"; }
stage "dependencies"
scripts/install-deps.sh --with-torch
stage "release build"
scripts/build.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
stage "release tests"
ctest --test-dir build/release --output-on-failure -j2 --timeout 600
if ((!release_only)); then
  stage "sanitizer build and tests"
  scripts/test-sanitizers.sh
  stage "fuzz smoke"
  scripts/fuzz.sh --runs=100000 --seed=1
fi
stage "all passed"
