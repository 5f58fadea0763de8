#pragma once
// The host's GEMM ceilings, measured once and cached per host and thread
// count: `tfm bench` reports MFU against them, and train.precision "auto"
// picks bf16 only where its ceiling clearly beats fp32's.
#include <string>

namespace tfm {

// GEMM ceilings at 1024³ with `threads` threads: fp32 (oneDNN sgemm) and bf16
// (tfm::gemm_bf16: bf16 operands, fp32 accumulation; 0 without AVX-512), timed
// interleaved, medians of 20 rounds after 5 of warm-up. Both are cached per host
// and thread count. Whether bf16 pays depends on the CPU, not only on its ISA: on
// an Intel Xeon with AVX512-BF16 but no AMX it runs at about 0.6x fp32.
struct GemmPeaks {
  double fp32 = 0.0, bf16 = 0.0;
  bool avx512_bf16 = false;  // the CPU has the instructions (else oneDNN emulates bf16)
};
GemmPeaks measure_gemm_peaks(int threads);
// Throws tfm::Error unless precision is "fp32" or "bf16".
void check_bench_precision(const std::string& precision);
// One of them, from the cache unless `remeasure` (precision: "fp32" or "bf16").
double gemm_peak_gflops(int threads, bool remeasure, const std::string& precision = "fp32");

}  // namespace tfm
