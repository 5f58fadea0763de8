#!/usr/bin/env python3
"""Runs the matmul benchmarks of bench_kernels and prints, per shape, the median
GFLOP/s of oneDNN's dnnl_sgemm (the reference) and of each tfm backend, and the
ratio tfm Auto / dnnl_sgemm (issue 3 target at 1024³: >= 0.85), and the bf16
GEMM (bf16 operands, fp32 accumulation) with its speed-up over tfm Auto. With
--filter '^BM_' (or '.') it also tabulates the GB/s of the other kernels.

Repetitions are randomly interleaved (Google Benchmark's
--benchmark_enable_random_interleaving), so a burst of load on a shared machine
hits all variants alike instead of one shape's whole run. Standard library only.

  OMP_NUM_THREADS=2 python3 benchmarks/matmul_ratio.py build/release/benchmarks/bench_kernels
  python3 benchmarks/matmul_ratio.py --json saved.json      # re-print a saved run
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

IMPLS = ["sgemm_ref", "auto", "sgemm", "primitive", "bf16"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            info = {}
            for line in f:
                if ":" in line:
                    k, v = (s.strip() for s in line.split(":", 1))
                    info.setdefault(k, v)
        return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"
    except OSError:
        return platform.processor() or "?"


def run(bench, repetitions, min_time, bench_filter, threads, out_path):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    cmd = [bench, f"--benchmark_filter={bench_filter}", f"--benchmark_repetitions={repetitions}",
           "--benchmark_enable_random_interleaving=true",
           f"--benchmark_min_time={min_time}", "--benchmark_format=json"]
    print(f"# OMP_NUM_THREADS={threads} {' '.join(cmd)}", file=sys.stderr)
    load_before = list(os.getloadavg())
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in load_before)}", file=sys.stderr)
    result = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
    print(f"# load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    data = json.loads(result.stdout)
    data["omp_num_threads"] = threads
    data["load_average"] = {"before": load_before, "after": list(os.getloadavg())}
    if out_path:
        with open(out_path, "w") as f:
            json.dump(data, f, indent=1)
    return data


def table(data, stat="median"):
    """Markdown table from the per-repetition runs (run_type "iteration")."""
    runs, label, family = {}, {}, {}
    for b in data["benchmarks"]:
        parts = b.get("run_name", b["name"]).split("/")
        if len(parts) < 3 or parts[0] != "matmul" or b.get("run_type", "iteration") != "iteration":
            continue
        shape, impl = parts[1], parts[2]
        if "error_occurred" in b:
            sys.exit(f"{b['name']}: {b.get('error_message')}")
        runs.setdefault((shape, impl), []).append(b["GFLOP/s"])
        label[shape] = b.get("label", "")
        # Interleaved runs come in random order: list shapes in registration order.
        family[shape] = min(family.get(shape, 1 << 30), b.get("family_index", len(family)))

    median = {k: statistics.median(v) for k, v in runs.items()}
    best = {k: max(v) for k, v in runs.items()}
    cv = {k: statistics.pstdev(v) / statistics.mean(v) for k, v in runs.items()}

    shown = median if stat == "median" else best

    def cell(shape, impl):
        v = shown.get((shape, impl))
        return f"{v:.1f}" if v is not None else "-"

    def ratio(stat, shape):
        ref, auto = stat.get((shape, "sgemm_ref")), stat.get((shape, "auto"))
        return f"{auto / ref:.2f}" if ref and auto else "-"

    reps = max((len(v) for v in runs.values()), default=0)
    lines = [f"GFLOP/s: {stat} of {reps} repetitions; best-of ratio: best repetition of each; "
             "CV: largest stddev/mean of the five", "",
             "| shape | M×N×K op | dnnl_sgemm | tfm Auto | tfm Sgemm | tfm Primitive | Auto/sgemm median | "
             "Auto/sgemm best-of | faster backend | tfm bf16 | bf16/Auto median | CV |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for shape in sorted(family, key=family.get):
        s, p = shown.get((shape, "sgemm")), shown.get((shape, "primitive"))
        faster = "-" if s is None or p is None else ("Sgemm" if s >= p else "Primitive")
        if s is not None and p is not None and abs(s - p) < 0.05 * max(s, p):
            faster += " (<5%)"
        spread = [cv[shape, i] for i in IMPLS if (shape, i) in cv]
        b16, au = median.get((shape, "bf16")), median.get((shape, "auto"))
        bf16_ratio = f"{b16 / au:.2f}" if b16 and au else "-"
        lines.append(f"| {shape} | {label.get(shape, '')} | {cell(shape, 'sgemm_ref')} | {cell(shape, 'auto')} | "
                     f"{cell(shape, 'sgemm')} | {cell(shape, 'primitive')} | {ratio(median, shape)} | "
                     f"{ratio(best, shape)} | {faster} | {cell(shape, 'bf16')} | {bf16_ratio} | "
                     f"{(f'{100 * max(spread):.0f}%' if spread else '-')} |")
    return "\n".join(lines)


def rate_table(data):
    """Median GB/s of the non-matmul kernels (softmax, layer norm, GELU, cross-entropy)."""
    runs, family = {}, {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"])
        if name.startswith("matmul/") or b.get("run_type", "iteration") != "iteration" or "GB/s" not in b:
            continue
        name = name.removesuffix("/real_time")
        runs.setdefault(name, []).append((b["GB/s"], b["real_time"], b.get("time_unit", "")))
        family[name] = (b.get("family_index", 0), b.get("per_family_instance_index", 0))
    if not runs:
        return ""
    lines = ["| kernel / size | time per call (median) | GB/s (median) | GB/s (best) | CV |",
             "|---|---:|---:|---:|---:|"]
    for name in sorted(runs, key=family.get):
        rates = [r for r, _, _ in runs[name]]
        times = [t for _, t, _ in runs[name]]
        unit = runs[name][0][2]
        lines.append(f"| {name.removeprefix('BM_')} | {statistics.median(times):.1f} {unit} | "
                     f"{statistics.median(rates):.1f} | {max(rates):.1f} | "
                     f"{100 * statistics.pstdev(rates) / statistics.mean(rates):.0f}% |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", nargs="?", help="path to bench_kernels")
    ap.add_argument("--json", help="print the table of a saved --benchmark_format=json run instead of running")
    ap.add_argument("--out", help="also save the raw JSON here")
    ap.add_argument("--repetitions", type=int, default=9)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repetition")
    ap.add_argument("--filter", default="^matmul/",
                    help="benchmark regex (default: all matmul shapes; '^BM_' for the GB/s kernels, '.' for all)")
    ap.add_argument("--stat", choices=["median", "best"], default="median",
                    help="GFLOP/s columns: median or best repetition (best: least disturbed by other load)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    args = ap.parse_args()
    if args.json:
        with open(args.json) as f:
            data = json.load(f)
    elif args.bench:
        data = run(args.bench, args.repetitions, args.min_time, args.filter, args.threads, args.out)
    else:
        ap.error("give the bench_kernels path or --json")
    ctx = data.get("context", {})
    print(f"CPU: {cpu_model()}, {ctx.get('num_cpus', '?')} CPUs; date {ctx.get('date', '?')}; "
          f"OMP_NUM_THREADS={data.get('omp_num_threads', '?')}")
    load = data.get("load_average")
    if load:
        print("load average (1/5/15 min) before: " + " ".join(f"{x:.2f}" for x in load["before"]) +
              ", after: " + " ".join(f"{x:.2f}" for x in load["after"]))
    if any(b.get("run_name", b["name"]).startswith("matmul/") for b in data["benchmarks"]):
        print(table(data, args.stat))
    other = rate_table(data)
    if other:
        print()
        print(other)


if __name__ == "__main__":
    main()
