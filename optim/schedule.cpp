#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace tfm {

double learning_rate(const ScheduleConfig& s, int64_t step) {
  step = std::max<int64_t>(step, 1);
  const double warm = static_cast<double>(s.warmup_steps);
  if (s.name == "noam") {
    if (s.warmup_steps <= 0) return s.lr / std::sqrt(static_cast<double>(step));
    return s.lr * std::min(step / warm, std::sqrt(warm / step));
  }
  if (s.warmup_steps > 0 && step <= s.warmup_steps) return s.lr * step / warm;
  if (s.name == "constant") return s.lr;
  if (s.name == "cosine") {
    if (step >= s.decay_steps) return s.min_lr;
    const double progress = (step - warm) / std::max(1.0, static_cast<double>(s.decay_steps) - warm);
    return s.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (s.lr - s.min_lr);
  }
  TFM_FAIL("config: optim.schedule: unknown schedule \"", s.name, "\" (one of: constant, cosine, noam)");
}

}  // namespace tfm
