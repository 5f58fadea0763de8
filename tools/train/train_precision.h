#pragma once
// train.precision and the tools' --precision: "fp32", "bf16" or "auto", resolved
// against this CPU. bf16 needs AVX512-BF16 (without it oneDNN emulates bf16,
// several times slower, so an explicit "bf16" is an error there). Having the
// instructions is not enough to pay: on an Intel Xeon with AVX512-BF16 but no AMX
// the bf16 GEMM runs at about 0.6x fp32, on AMD Zen 5 at about 1.9x. So "auto"
// compares the two GEMM ceilings (tfm bench --peak, cached per host and thread
// count) and takes bf16 only when its ceiling is at least kAutoBf16MinSpeedup
// times fp32's; an explicit "bf16" where it is slower runs, with a warning.
#include <string>

#include "core/precision.h"

namespace tfm {

inline constexpr double kAutoBf16MinSpeedup = 1.3;

struct PrecisionChoice {
  Precision precision = Precision::F32;
  std::string reason;   // for the log: why this precision
  std::string warning;  // non-empty: bf16 asked for where it is slower
};

// Throws tfm::Error unless setting is fp32, bf16 or auto; `what` names the key or flag.
void check_precision_setting(const std::string& setting, const std::string& what);
// Resolves the setting for `threads` threads (the GEMM ceilings are measured once per
// host and thread count, then read from the cache).
PrecisionChoice choose_precision(const std::string& setting, int threads, const std::string& what);
// The same, agreed across MPI ranks: rank 0's choice (the ranks' ceilings may measure differently).
PrecisionChoice choose_precision_for_ranks(const std::string& setting, int threads, const std::string& what);

}  // namespace tfm
