#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a passing test suite:
# installs the dependencies, builds (Release), runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
ctest --test-dir build/release --output-on-failure -j2 --timeout 600
