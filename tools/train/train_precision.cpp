#include "tools/train/train_precision.h"

#include "core/error.h"
#include "core/kernels/matmul.h"
#include "tools/support/gemm_peaks.h"
#include "tools/train/distributed.h"
#include "tools/support/progress.h"

namespace tfm {
namespace {
void require_bf16_isa(const std::string& what) {
  TFM_CHECK(cpu_has_avx512_bf16(), what, " = bf16 needs the AVX512-BF16 instructions (avx512_bf16 in /proc/cpuinfo), ",
            "which this CPU lacks: oneDNN would emulate bf16, several times slower than fp32; use fp32 or auto");
}
}  // namespace

void check_precision_setting(const std::string& setting, const std::string& what) {
  TFM_CHECK(setting == "fp32" || setting == "bf16" || setting == "auto", what, " must be fp32, bf16 or auto, found \"",
            setting, "\"");
}

PrecisionChoice choose_precision(const std::string& setting, int threads, const std::string& what) {
  check_precision_setting(setting, what);
  if (setting == "fp32") return {Precision::F32, "fp32 (" + what + ")", ""};
  const bool has_isa = cpu_has_avx512_bf16();
  if (setting == "bf16") require_bf16_isa(what);
  if (!has_isa) return {Precision::F32, "fp32 (auto: no AVX512-BF16 on this CPU)", ""};
  const double fp32 = gemm_peak_gflops(threads, false, "fp32"), bf16 = gemm_peak_gflops(threads, false, "bf16");
  const double ratio = fp32 > 0 ? bf16 / fp32 : 0.0;
  const std::string measured = "the bf16 GEMM ceiling is " + format_value("%.2fx", ratio) + " fp32's here (tfm bench --peak " +
                               "--precision bf16, " + std::to_string(threads) + " threads)";
  if (setting == "bf16")
    return {Precision::BF16, "bf16 (" + what + ")",
            ratio < 1.0 ? "bf16 is slower than fp32 on this CPU: " + measured : std::string()};
  if (ratio >= kAutoBf16MinSpeedup) return {Precision::BF16, "bf16 (auto: " + measured + ")", ""};
  return {Precision::F32, "fp32 (auto: " + measured + ", below the " + format_value("%.2fx", kAutoBf16MinSpeedup) + " bf16 needs)",
          ""};
}

PrecisionChoice choose_precision_for_ranks(const std::string& setting, int threads, const std::string& what) {
  // Only rank 0 measures the ceilings: ranks sharing a host would time each other and
  // write the same cache file. The others validate the setting and take its choice.
  PrecisionChoice choice;
  if (dist::is_root()) {
    choice = choose_precision(setting, threads, what);
  } else {
    check_precision_setting(setting, what);
    if (setting == "bf16") require_bf16_isa(what);
  }
  double bf16 = dist::is_root() && choice.precision == Precision::BF16 ? 1.0 : 0.0;
  dist::allreduce_sum(&bf16, 1);
  choice.precision = bf16 > 0 ? Precision::BF16 : Precision::F32;
  return choice;
}

}  // namespace tfm
