#include "tools/commands/inference_precision.h"

#include <cstdio>

#include "core/parallel.h"
#include "tools/train/train_precision.h"

namespace tfm::cli {
namespace {
Precision chosen(const std::string& setting) {
  const PrecisionChoice pc = choose_precision(setting, num_threads(), "--precision");
  if (!pc.warning.empty()) std::fprintf(stderr, "warning: %s\n", pc.warning.c_str());
  return pc.precision;
}
}  // namespace

void add_precision_option(CLI::App* cmd, std::string& setting) {
  cmd->add_option("--precision", setting,
                  "fp32 | bf16 | auto: GEMM operands rounded to bf16, fp32 accumulation (auto: bf16 where its GEMM "
                  "ceiling is 1.3x fp32's)")
      ->capture_default_str();
}

InferencePrecision::InferencePrecision(const std::string& setting) : scope_(chosen(setting)) {}

}  // namespace tfm::cli
