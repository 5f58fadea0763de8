#!/usr/bin/env bash
# Side-by-side benchmark: `tfm bench` (fp32 and bf16) against PyTorch, run
# interleaved (every variant once per round, rounds repeated) for every preset
# and mode, then a table of median tokens/s per variant and the ratios of tfm to
# the best PyTorch variant measured in the same run. Only ratios from one run
# mean anything on a shared machine; check that it is idle first (the script warns).
#
#   benchmarks/compare.sh [--rounds N] [--presets "gpt-tiny gpt-small seq2seq"]
#                         [--modes "train infer"] [--threads T] [--steps N]
#                         [--variants "LIST"] [--tfm PATH] [--json-out FILE]
#
# Variants (default: every one this machine can run):
#   tfm-fp32, tfm-bf16 (bf16 needs AVX512-BF16),
#   torch1.13            ../shared/bench/torch_ref.py with Debian 12's PyTorch
#                        (scripts/install-deps.sh --with-torch),
#   torch2-sdpa, torch2-sdpa-bf16, torch2-compile, torch2-compile-bf16
#                        ../shared/bench/torch2_ref.py in the PyTorch 2.6 chroot of
#                        ../shared/bench/torch2.sh (eager + scaled_dot_product_attention,
#                        with torch.autocast bf16, torch.compile, compile + autocast);
#                        used when the chroot exists (run torch2.sh once to build it).
# MFU: tfm-bf16 and the PyTorch bf16 variants against the bf16 GEMM ceiling, the
# others against fp32's (both measured by `tfm bench --peak`, cached per host).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$root/../shared/bench"
rounds=3
presets="gpt-tiny gpt-small seq2seq"
modes="train infer"
threads=2
steps=20
variants=""
tfm="$root/build/release/tools/tfm"
json_out=""
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --presets) presets="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --variants) variants="$2"; shift 2 ;;
    --tfm) tfm="$2"; shift 2 ;;
    --json-out) json_out="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ -x "$tfm" ]] || { echo "error: $tfm not found: run scripts/build.sh first" >&2; exit 2; }

have_bf16=0; grep -qw avx512_bf16 /proc/cpuinfo && have_bf16=1
have_torch1=0; [[ -f "$shared/torch_ref.py" ]] && /usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch1=1
torch2_root=${TORCH2_ROOT:-/var/cache/torch2-root}
have_torch2=0; [[ -f "$torch2_root/.torch-ok" && -x "$shared/torch2.sh" ]] && have_torch2=1
if [[ -z "$variants" ]]; then
  variants="tfm-fp32"
  ((have_bf16)) && variants+=" tfm-bf16"
  ((have_torch1)) && variants+=" torch1.13"
  ((have_torch2)) && variants+=" torch2-sdpa torch2-sdpa-bf16 torch2-compile torch2-compile-bf16"
fi
for v in $variants; do
  case "$v" in
    tfm-fp32) ;;
    tfm-bf16) ((have_bf16)) || { echo "error: tfm-bf16 needs AVX512-BF16, which this CPU lacks" >&2; exit 2; } ;;
    torch1.13) ((have_torch1)) || { echo "error: torch1.13 needs scripts/install-deps.sh --with-torch and $shared/torch_ref.py" >&2; exit 2; } ;;
    torch2-sdpa|torch2-sdpa-bf16|torch2-compile|torch2-compile-bf16)
      ((have_torch2)) || { echo "error: $v needs the PyTorch 2.6 chroot: run $shared/torch2.sh once (needs root)" >&2; exit 2; } ;;
    *) echo "error: unknown variant '$v'" >&2; usage >&2; exit 2 ;;
  esac
done
((have_torch1 || have_torch2)) || echo "warning: no PyTorch here: the table has no reference column" >&2

load=$(cut -d' ' -f1 /proc/loadavg)
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $load"
if awk "BEGIN{exit !($load > 0.5)}"; then
  echo "warning: load average $load: another process is busy, the timings will be noisy" >&2
fi
echo "tfm: $("$tfm" --version), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "variants: $variants"
# One MFU denominator per precision for every implementation: the GEMM ceilings tfm measures here.
peak32=$("$tfm" bench --peak --threads "$threads" | grep -o '[0-9.]* GFLOP/s' | head -1 | cut -d' ' -f1)
peak16=$peak32
if ((have_bf16)); then
  peak16=$("$tfm" bench --peak --precision bf16 --threads "$threads" | grep -o '[0-9.]* GFLOP/s' | head -1 | cut -d' ' -f1)
fi
echo "GEMM ceilings (1024^3, $threads threads): fp32 $peak32 GFLOP/s, bf16 $peak16 GFLOP/s"

# run VARIANT PRESET MODE: prints the variant's JSON result line.
run() {
  local v=$1 preset=$2 mode=$3 flag="" peak=$peak32
  [[ "$mode" == infer ]] && flag="--infer"
  [[ "$v" == *bf16 ]] && peak=$peak16
  local common=(--preset "$preset" $flag --threads "$threads" --peak-gflops "$peak" --steps "$steps" --json)
  case "$v" in
    tfm-fp32) "$tfm" bench "${common[@]}" ;;
    tfm-bf16) "$tfm" bench "${common[@]}" --precision bf16 ;;
    torch1.13) /usr/bin/python3 "$shared/torch_ref.py" "${common[@]}" ;;
    torch2-sdpa) "$shared/torch2.sh" python3 /bench/torch2_ref.py "${common[@]}" --sdpa ;;
    torch2-sdpa-bf16) "$shared/torch2.sh" python3 /bench/torch2_ref.py "${common[@]}" --sdpa --bf16 ;;
    torch2-compile) "$shared/torch2.sh" python3 /bench/torch2_ref.py "${common[@]}" --sdpa --compile ;;
    torch2-compile-bf16) "$shared/torch2.sh" python3 /bench/torch2_ref.py "${common[@]}" --sdpa --compile --bf16 ;;
  esac | tail -1
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for preset in $presets; do
  for mode in $modes; do
    for ((r = 1; r <= rounds; ++r)); do
      for v in $variants; do
        line=$(run "$v" "$preset" "$mode" 2>/dev/null) || line=""
        if [[ "$line" != "{"* ]]; then
          echo "warning: $v $preset $mode round $r failed" >&2
          continue
        fi
        echo "{\"variant\":\"$v\",\"round\":$r,\"result\":$line}" >>"$results"
        printf '.' >&2
      done
    done
  done
done
echo >&2
[[ -n "$json_out" ]] && cp "$results" "$json_out"
/usr/bin/python3 "$root/benchmarks/compare_table.py" "$results" $variants
