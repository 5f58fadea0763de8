#!/usr/bin/env bash
# Configures and builds tfm (Release, -O3 -march=native) into build/release.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release "$@" >/dev/null
cmake --build build/release
