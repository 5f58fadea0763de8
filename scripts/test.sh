#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite (what CI
# runs): installs the dependencies (PyTorch too, for the interop check), builds
# Release and runs every test.
# Usage: scripts/test.sh [--sanitizers] [--fuzz]
#   --sanitizers  then the whole suite under AddressSanitizer, LeakSanitizer and
#                 UBSan (scripts/test-sanitizers.sh)
#   --fuzz        then each fuzz target for 60 s (scripts/fuzz.sh)
# Neither is in CI yet: the suite's first complete run under the sanitizers,
# and fuzz targets that stay clean for 60 s, come first (issue 13).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=0 fuzz=0
for arg in "$@"; do
  case "$arg" in
    --sanitizers) sanitizers=1 ;;
    --fuzz) fuzz=1 ;;
    *) echo "error: unknown option $arg (expected --sanitizers or --fuzz)" >&2; exit 2 ;;
  esac
done
stage() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
stage "dependencies"
scripts/install-deps.sh --with-torch
stage "release build"
scripts/build.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
stage "release tests"
ctest --test-dir build/release --output-on-failure -j2 --timeout 600
if ((sanitizers)); then
  stage "sanitizer build and tests"
  scripts/test-sanitizers.sh
fi
if ((fuzz)); then
  stage "fuzz smoke"
  scripts/fuzz.sh 60
fi
stage "all passed"
