#pragma once
// Helpers shared by the kernel benchmarks: deterministic inputs and the rate
// counters every benchmark reports.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

namespace tfm::bench {

// Uniform in [lo, hi), fixed seed so every run sees the same data.
inline std::vector<float> random_floats(int64_t n, float lo = -1.0f, float hi = 1.0f, uint32_t seed = 1234) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

// kIsRate divides by the benchmark's time: with UseRealTime() that is wall time,
// which is what counts for multi-threaded kernels (CPU time of the main thread
// alone would overstate the rate).
inline void report_gflops(benchmark::State& state, double flop_per_call) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flop_per_call * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Bytes read plus bytes written per call, counted once (an ideal cache).
inline void report_gbytes(benchmark::State& state, double bytes_per_call) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes_per_call * 1e-9 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace tfm::bench
