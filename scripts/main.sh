#!/usr/bin/env bash
# The README's main job, from a fresh Debian 12 machine: installs the
# dependencies, builds, trains the default character-level language model
# (configs/default.json, about 5 minutes on 2 cores) with a progress bar, then
# prints its validation perplexity and a generated sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
tfm=build/release/tools/tfm
"$tfm" --version
run=runs/default
rm -rf "$run"
"$tfm" train configs/default.json --out "$run" "$@"
echo
echo "== validation perplexity (best checkpoint) =="
"$tfm" perplexity "$run/checkpoints/best.safetensors" /usr/share/games/fortunes/wisdom
echo
echo "== sample =="
"$tfm" generate "$run/checkpoints/best.safetensors" --prompt "The " --tokens 400 --temperature 0.8 --seed 7
echo
echo "== report =="
"$tfm" report "$run" --out "$run/report.html"
echo "open $run/report.html in a browser: the loss, learning-rate and throughput curves"
