// tfm bench: the presets of ../shared/bench/torch_ref.py, or the GEMM ceilings (tools/bench/bench.h).
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "tools/bench/bench.h"
#include "tools/support/gemm_peaks.h"
#include "tools/commands/command.h"

namespace tfm::cli {
namespace {

struct Options {
  BenchOptions bench;
  bool peak = false;
};

int print_peaks(const BenchOptions& b) {
  if (b.precision == "fp32") {
    std::printf("fp32 GEMM peak (oneDNN sgemm 1024^3, %d threads): %.1f GFLOP/s\n", b.threads,
                gemm_peak_gflops(b.threads, true));
    return 0;
  }
  const GemmPeaks peaks = measure_gemm_peaks(b.threads);
  TFM_CHECK(peaks.bf16 > 0, "bench: --precision bf16 needs AVX-512 (oneDNN has no bf16 matmul without it); ",
            "this CPU has none");
  std::printf("bf16 GEMM peak (bf16 operands, fp32 accumulation, 1024^3, %d threads): %.1f GFLOP/s, %.2fx the "
              "fp32 peak of %.1f GFLOP/s measured interleaved%s\n",
              b.threads, peaks.bf16, peaks.bf16 / peaks.fp32, peaks.fp32,
              peaks.avx512_bf16 ? "" : " (no AVX512-BF16 on this CPU: oneDNN emulates bf16)");
  return 0;
}

CommandRun setup(CLI::App& app) {
  auto o = std::make_shared<Options>();
  BenchOptions& b = o->bench;
  CLI::App* cmd = app.add_subcommand("bench", "Time training or inference of a benchmark preset (as torch_ref.py)");
  cmd->add_option("--preset", b.preset, "gpt-tiny | gpt-small | seq2seq");
  cmd->add_option("--steps", b.steps, "Timed steps (median reported)");
  cmd->add_option("--warmup", b.warmup, "Untimed steps first");
  cmd->add_option("--threads", b.threads, "OpenMP threads");
  cmd->add_flag("--infer", b.infer, "Time no-grad scoring passes instead of training steps");
  cmd->add_flag("--json", b.json, "End with one JSON line (keys as torch_ref.py)");
  cmd->add_option("--peak-gflops", b.peak_gflops, "MFU denominator (default: measured, cached per host)");
  cmd->add_flag("--peak", o->peak,
                "Measure the GEMM peak at 1024^3 (fp32: oneDNN sgemm; bf16: bf16 operands, fp32 accumulation) "
                "and exit");
  cmd->add_option("--precision", b.precision,
                  "fp32 | bf16: the GEMMs' operands (bf16: rounded to bf16, fp32 accumulation; MFU against the bf16 "
                  "peak)");
  cmd->add_option("--seq-len", b.seq_len, "Override the preset's sequence length");
  cmd->add_option("--batch", b.batch, "Override the preset's batch size");
  cmd->add_option("--window", b.window, "attention_window for the LM presets (0 = global)");
  cmd->add_flag("--allreduce", b.allreduce,
                "Under mpirun: time MPI_Allreduce of the preset's whole gradient (data-parallel cost)");
  return [o] {
    check_bench_precision(o->bench.precision);
    if (o->peak) return print_peaks(o->bench);
    TFM_CHECK(!o->bench.preset.empty(), "bench: --preset is required (gpt-tiny, gpt-small, seq2seq)");
    return run_bench(o->bench);
  };
}

TFM_REGISTER_COMMAND("bench", 50, setup);

}  // namespace
}  // namespace tfm::cli
