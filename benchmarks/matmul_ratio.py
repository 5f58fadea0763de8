#!/usr/bin/env python3
"""Runs the matmul benchmarks of bench_kernels and prints, per shape, the median
GFLOP/s of oneDNN's dnnl_sgemm (the reference) and of each tfm backend, and the
ratio tfm Auto / dnnl_sgemm (issue 3 target at 1024³: >= 0.85).

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
import subprocess
import sys

IMPLS = ["sgemm_ref", "auto", "sgemm", "primitive"]


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
           "--benchmark_enable_random_interleaving=true", "--benchmark_report_aggregates_only=true",
           f"--benchmark_min_time={min_time}", "--benchmark_format=json"]
    print(f"# OMP_NUM_THREADS={threads} {' '.join(cmd)}", file=sys.stderr)
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    result = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
    print(f"# load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    if out_path:
        with open(out_path, "w") as f:
            f.write(result.stdout)
    return json.loads(result.stdout)


def table(data):
    # name: matmul/<shape>/<impl>/real_time; aggregates: median and cv.
    median, cv, label, order = {}, {}, {}, []
    for b in data["benchmarks"]:
        parts = b.get("run_name", b["name"]).split("/")
        if len(parts) < 3 or parts[0] != "matmul":
            continue
        shape, impl = parts[1], parts[2]
        if shape not in order:
            order.append(shape)
        agg = b.get("aggregate_name")
        if agg == "median":
            median[shape, impl] = b["GFLOP/s"]
            label[shape] = b.get("label", "")
        elif agg == "cv":
            cv[shape, impl] = b["GFLOP/s"]
        elif agg is None and (shape, impl) not in median:  # a run without repetitions
            median[shape, impl] = b["GFLOP/s"]
            label[shape] = b.get("label", "")

    def cell(shape, impl):
        v = median.get((shape, impl))
        return f"{v:.1f}" if v is not None else "-"

    lines = ["| shape | M×N×K op | dnnl_sgemm | tfm Auto | tfm Sgemm | tfm Primitive | Auto / sgemm | faster backend | max CV |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for shape in order:
        ref, auto = median.get((shape, "sgemm_ref")), median.get((shape, "auto"))
        ratio = f"{auto / ref:.2f}" if ref and auto else "-"
        s, p = median.get((shape, "sgemm")), median.get((shape, "primitive"))
        faster = "-" if s is None or p is None else ("Sgemm" if s >= p else "Primitive")
        if s is not None and p is not None and abs(s - p) < 0.05 * max(s, p):
            faster += " (tie <5%)"
        spread = [cv[shape, i] for i in IMPLS if (shape, i) in cv]
        lines.append(f"| {shape} | {label.get(shape, '')} | {cell(shape, 'sgemm_ref')} | {cell(shape, 'auto')} | "
                     f"{cell(shape, 'sgemm')} | {cell(shape, 'primitive')} | {ratio} | {faster} | "
                     f"{(f'{100 * max(spread):.0f}%' if spread else '-')} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", nargs="?", help="path to bench_kernels")
    ap.add_argument("--json", help="print the table of a saved --benchmark_format=json run instead of running")
    ap.add_argument("--out", help="also save the raw JSON here")
    ap.add_argument("--repetitions", type=int, default=9)
    ap.add_argument("--min-time", type=float, default=0.2, help="seconds per repetition")
    ap.add_argument("--filter", default="^matmul/", help="benchmark regex (default: all matmul shapes)")
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
          f"GFLOP/s are medians over repetitions, CV = stddev/mean")
    print(table(data))


if __name__ == "__main__":
    main()
