#pragma once
// `tfm bench`: times the presets of ../shared/bench/torch_ref.py with the same
// models, random tokens and AdamW, and reports the same quantities (median
// ms/step, tokens/s, GFLOP/s, MFU, peak RSS, parameters), so the two can be
// compared as ratios on one machine.
#include <string>

namespace tfm {

struct BenchOptions {
  std::string preset;  // gpt-tiny | gpt-small | seq2seq
  int steps = 10;
  int warmup = 2;
  int threads = 2;
  bool infer = false;
  bool json = false;
  double peak_gflops = 0.0;  // 0: measured (oneDNN sgemm 1024³), cached per host and thread count
  std::string precision = "fp32";  // fp32 | bf16 (bf16: the GEMM ceiling only, --peak)
  int64_t seq_len = 0;       // overrides the preset's (long-context measurements)
  int64_t window = 0;        // attention_window for the LM presets
  int64_t batch = 0;         // overrides the preset's batch
  bool allreduce = false;    // time MPI_Allreduce of the preset's gradient instead (under mpirun)
};

int run_bench(const BenchOptions& options);
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
