#!/usr/bin/python3
"""The table of benchmarks/compare.sh: median tokens/s per variant for every
preset and mode, then the ratios that issue 14's targets name, each the median
over rounds of the per-round ratio (variants of one round ran back to back):

  fp32/best   tfm-fp32 over the best PyTorch variant (highest median tokens/s)
  bf16/fp32   tfm-bf16 over tfm-fp32
  bf16/best   tfm-bf16 over the best PyTorch variant
  RSS b/f     tfm-bf16's peak RSS over tfm-fp32's

    compare_table.py RESULTS.jsonl VARIANT...

RESULTS.jsonl: one {"variant", "round", "result"} object per line, "result"
being the --json line of tfm bench / torch_ref.py / torch2_ref.py.
"""
import json
import statistics
import sys


def main(path, variants):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    keys = []
    for r in rows:
        k = (r["result"]["preset"], r["result"]["mode"])
        if k not in keys:
            keys.append(k)
    torch_variants = [v for v in variants if v.startswith("torch")]
    header = f"{'preset':<10} {'mode':<6}" + "".join(f" {v:>19}" for v in variants)
    header += f" {'best PyTorch':>19} {'fp32/best':>9} {'bf16/fp32':>9} {'bf16/best':>9} {'RSS b/f':>7}"
    print(header)
    for preset, mode in keys:
        sel = [r for r in rows if (r["result"]["preset"], r["result"]["mode"]) == (preset, mode)]
        by = {v: {r["round"]: r["result"] for r in sel if r["variant"] == v} for v in variants}
        med = {v: statistics.median(x["tokens_per_s"] for x in by[v].values()) for v in variants if by[v]}
        line = f"{preset:<10} {mode:<6}" + "".join(f" {med[v]:>19,.0f}" if v in med else f" {'-':>19}" for v in variants)
        ran = [v for v in torch_variants if v in med]
        best = max(ran, key=lambda v: med[v]) if ran else None
        line += f" {best or '-':>19}"

        def ratio(a, b, key="tokens_per_s"):
            if a not in med or b is None or b not in med:
                return "-"
            rounds = sorted(set(by[a]) & set(by[b]))
            return f"{statistics.median(by[a][i][key] / by[b][i][key] for i in rounds):.2f}x" if rounds else "-"

        line += f" {ratio('tfm-fp32', best):>9} {ratio('tfm-bf16', 'tfm-fp32'):>9} {ratio('tfm-bf16', best):>9}"
        line += f" {ratio('tfm-bf16', 'tfm-fp32', 'peak_rss_mb'):>7}"
        print(line)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
