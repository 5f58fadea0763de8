#!/usr/bin/env bash
# Side-by-side benchmark: `tfm bench` against ../shared/bench/torch_ref.py, run
# interleaved (tfm, torch, tfm, torch, ...) for every preset and mode, then a
# table of ratios (tfm tokens/s over PyTorch tokens/s: min and median over the
# rounds; peak memory: tfm over PyTorch). Only ratios from one run mean anything
# on a shared machine; check that it is idle first (the script warns).
#
#   benchmarks/compare.sh [--rounds N] [--presets "gpt-tiny gpt-small seq2seq"]
#                         [--modes "train infer"] [--threads T] [--steps N]
#                         [--tfm PATH] [--torch-ref PATH] [--json-out FILE]
#
# Needs PyTorch: scripts/install-deps.sh --with-torch.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rounds=3
presets="gpt-tiny gpt-small seq2seq"
modes="train infer"
threads=2
steps=20
tfm="$root/build/release/tools/tfm"
torch_ref="$root/../shared/bench/torch_ref.py"
json_out=""
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --presets) presets="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --tfm) tfm="$2"; shift 2 ;;
    --torch-ref) torch_ref="$2"; shift 2 ;;
    --json-out) json_out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -x "$tfm" ]] || { echo "error: $tfm not found: run scripts/build.sh first" >&2; exit 2; }
[[ -f "$torch_ref" ]] || { echo "error: $torch_ref not found (../shared/bench/torch_ref.py beside the checkout)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "error: PyTorch missing: run scripts/install-deps.sh --with-torch" >&2; exit 2; }

load=$(cut -d' ' -f1 /proc/loadavg)
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $load"
if awk "BEGIN{exit !($load > 0.5)}"; then
  echo "warning: load average $load: another process is busy, the timings will be noisy" >&2
fi
echo "tfm: $("$tfm" --version), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
# One MFU denominator for both: the GEMM peak tfm measures here (cached per host).
peak=$("$tfm" bench --peak --threads "$threads" | grep -o '[0-9.]* GFLOP/s' | head -1 | cut -d' ' -f1)
echo "peak: $peak GFLOP/s (oneDNN sgemm 1024^3, $threads threads)"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
first_torch_line=""
for preset in $presets; do
  for mode in $modes; do
    flag=""; [[ "$mode" == infer ]] && flag="--infer"
    extra=""; [[ -n "$steps" ]] && extra="--steps $steps"
    for ((r = 1; r <= rounds; ++r)); do
      out=$("$tfm" bench --preset "$preset" $flag --threads "$threads" --peak-gflops "$peak" $extra --json)
      echo "{\"impl\":\"tfm\",\"round\":$r,\"result\":$(tail -1 <<<"$out")}" >>"$results"
      out=$(/usr/bin/python3 "$torch_ref" --preset "$preset" $flag --threads "$threads" --peak-gflops "$peak" $extra --json)
      [[ -z "$first_torch_line" ]] && first_torch_line=$(head -1 <<<"$out")
      echo "{\"impl\":\"torch\",\"round\":$r,\"result\":$(tail -1 <<<"$out")}" >>"$results"
      printf '.' >&2
    done
  done
done
echo >&2
echo "torch_ref.py: $first_torch_line"
[[ -n "$json_out" ]] && cp "$results" "$json_out"
/usr/bin/python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = []
for r in rows:
    k = (r["result"]["preset"], r["result"]["mode"])
    if k not in keys: keys.append(k)
print(f"{'preset':<10} {'mode':<6} {'tfm tok/s':>10} {'torch tok/s':>11} {'ratio min':>9} {'ratio med':>9} "
      f"{'tfm MFU':>7} {'torch MFU':>9} {'tfm MB':>7} {'torch MB':>8} {'mem ratio':>9}")
for preset, mode in keys:
    sel = lambda impl: [r for r in rows if r["impl"] == impl and r["result"]["preset"] == preset and r["result"]["mode"] == mode]
    t, p = sel("tfm"), sel("torch")
    ratios = [a["result"]["tokens_per_s"] / b["result"]["tokens_per_s"] for a, b in zip(t, p)]
    med = lambda xs: statistics.median(xs)
    tt = med([r["result"]["tokens_per_s"] for r in t]); pt = med([r["result"]["tokens_per_s"] for r in p])
    tm = med([r["result"]["peak_rss_mb"] for r in t]); pm = med([r["result"]["peak_rss_mb"] for r in p])
    print(f"{preset:<10} {mode:<6} {tt:>10.0f} {pt:>11.0f} {min(ratios):>8.2f}x {med(ratios):>8.2f}x "
          f"{100*med([r['result']['mfu'] for r in t]):>6.1f}% {100*med([r['result']['mfu'] for r in p]):>8.1f}% "
          f"{tm:>7.0f} {pm:>8.0f} {tm/pm:>9.2f}")
EOF
