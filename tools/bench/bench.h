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

}  // namespace tfm
