#!/usr/bin/env bash
# Test BLEU of a Multi30k run's checkpoints: translates test_2016_flickr.en
# with each checkpoints/step-N.safetensors (or the files given) and scores
# the output against test_2016_flickr.de with `tfm bleu` (sacreBLEU's default).
# Prints one line per checkpoint: step, minutes of training at that step
# (from metrics.jsonl), BLEU.
#
#   scripts/multi30k-bleu.sh RUN_DIR [--beam K] [--length-penalty A] [CHECKPOINT ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tfm="${TFM:-$root/build/release/tools/tfm}"
data="${MULTI30K:-$root/../shared/data/multi30k}"
run="${1:?usage: multi30k-bleu.sh RUN_DIR [--beam K] [--length-penalty A] [CHECKPOINT ...]}"
shift
beam=5 lp=0.6 ckpts=()
while (($#)); do
  case "$1" in
    --beam) beam="$2"; shift 2 ;;
    --length-penalty) lp="$2"; shift 2 ;;
    *) ckpts+=("$1"); shift ;;
  esac
done
[[ -f "$data/test_2016_flickr.en" ]] || { echo "error: $data/test_2016_flickr.en not found (set MULTI30K)" >&2; exit 2; }
((${#ckpts[@]})) || mapfile -t ckpts < <(ls "$run"/checkpoints/step-*.safetensors | sort)
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
printf "%-44s %8s %8s\n" checkpoint minutes BLEU
for c in "${ckpts[@]}"; do
  step="$(basename "$c" | sed -n 's/^step-0*\([0-9][0-9]*\)\.safetensors$/\1/p')"
  minutes="-"
  if [[ -n "$step" && -f "$run/metrics.jsonl" ]]; then
    # The last metrics line of that step with an elapsed time (nlohmann's compact JSON: "key":value).
    minutes="$(awk -v step="$step" '
      match($0, /"step":[0-9]+/) && substr($0, RSTART + 7, RLENGTH - 7) + 0 == step &&
      match($0, /"elapsed_s":[-+0-9.eE]+/) { best = substr($0, RSTART + 12, RLENGTH - 12) }
      END { if (best == "") print "-"; else printf "%.1f\n", best / 60 }' "$run/metrics.jsonl")"
  fi
  "$tfm" translate "$c" --input "$data/test_2016_flickr.en" --beam "$beam" --length-penalty "$lp" > "$out/hyp" 2>/dev/null
  bleu="$("$tfm" bleu "$data/test_2016_flickr.de" "$out/hyp")"
  printf "%-44s %8s %8s   %s\n" "$(basename "$c")" "$minutes" "$(echo "$bleu" | awk '{print $3}')" "$bleu"
done
