#!/usr/bin/env bash
# Installs tfm's build and test dependencies from Debian 12 packages.
# Non-interactive and idempotent: packages already present are skipped.
# Usage: scripts/install-deps.sh [--with-torch]   (--with-torch: PyTorch for the
# interop check and the reference benchmarks; a measuring stick, not a dependency)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev              # oneDNN 2.x (the v3 API differs; CMake pins major 2)
  ocl-icd-opencl-dev       # Debian's dnnl-config.cmake requires OpenCL (its GPU runtime)
  nlohmann-json3-dev
  libgtest-dev libgmock-dev
  libbenchmark-dev
  libcli11-dev
  libsentencepiece-dev
  libopenmpi-dev openmpi-bin
  fortunes                 # the corpus of the README's main job (configs/default.json)
  chromium                 # headless screenshots of tfm report's page (tests/test_tool_report.cpp)
  clang libclang-rt-14-dev libomp-dev  # the asan-ubsan build: libFuzzer, the sanitizer runtimes, clang's OpenMP
)
if [[ "${1:-}" == "--with-torch" ]]; then
  packages+=(python3-torch python3-numpy libopenblas0-openmp)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "error: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
