#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/config.h"
#include "core/error.h"

namespace tfm {

ScheduleRegistry& schedule_registry() {
  static ScheduleRegistry registry("schedule");
  return registry;
}

std::unique_ptr<Schedule> make_schedule(const ScheduleConfig& s) {
  return schedule_registry().get(s.name, "config: optim.schedule").factory(s);
}

double learning_rate(const ScheduleConfig& s, int64_t step) { return make_schedule(s)->rate(step); }

namespace {
// A schedule that is a formula of the config and the step (≥ 1).
using RateFormula = double (*)(const ScheduleConfig& s, int64_t step);
class FormulaSchedule : public Schedule {
 public:
  FormulaSchedule(const ScheduleConfig& s, RateFormula formula) : s_(s), formula_(formula) {}
  double rate(int64_t step) const override { return formula_(s_, std::max<int64_t>(step, 1)); }

 private:
  ScheduleConfig s_;
  RateFormula formula_;
};

template <RateFormula formula>
std::unique_ptr<Schedule> make(const ScheduleConfig& s) {
  return std::make_unique<FormulaSchedule>(s, formula);
}

bool warming_up(const ScheduleConfig& s, int64_t step) { return s.warmup_steps > 0 && step <= s.warmup_steps; }
double warmup_rate(const ScheduleConfig& s, int64_t step) { return s.lr * step / static_cast<double>(s.warmup_steps); }

double constant_rate(const ScheduleConfig& s, int64_t step) { return warming_up(s, step) ? warmup_rate(s, step) : s.lr; }

double cosine_rate(const ScheduleConfig& s, int64_t step) {
  if (warming_up(s, step)) return warmup_rate(s, step);
  if (step >= s.decay_steps) return s.min_lr;
  const double warm = static_cast<double>(s.warmup_steps);
  const double progress = (step - warm) / std::max(1.0, static_cast<double>(s.decay_steps) - warm);
  return s.min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (s.lr - s.min_lr);
}

double noam_rate(const ScheduleConfig& s, int64_t step) {
  if (s.warmup_steps <= 0) return s.lr / std::sqrt(static_cast<double>(step));
  const double warm = static_cast<double>(s.warmup_steps);
  return s.lr * std::min(step / warm, std::sqrt(warm / step));
}

// Warmup-stable-decay (Zhai et al. 2022; Hu et al. 2024, MiniCPM; Hägele et al. 2024): linear
// warmup, lr until the last decay_fraction of decay_steps, then down to min_lr at decay_steps
// along decay_shape, with progress p in (0, 1]: linear 1 − p, cosine (1 + cos πp)/2, sqrt 1 − √p.
class WarmupStableDecay : public Schedule {
 public:
  explicit WarmupStableDecay(const ScheduleConfig& s) : s_(s) {
    ConfigReader r(s.options, "optim");
    fraction_ = r.get_number("decay_fraction", 0.2, 0.0, 1.0);
    TFM_CHECK(fraction_ > 0.0, "config: optim.decay_fraction must be in (0, 1], found ", fraction_);
    shape_ = r.get_string("decay_shape", "linear", {"linear", "cosine", "sqrt"});
    r.finish();
  }
  double rate(int64_t step_in) const override {
    const int64_t step = std::max<int64_t>(step_in, 1);
    if (warming_up(s_, step)) return warmup_rate(s_, step);
    if (step >= s_.decay_steps) return s_.min_lr;
    const double total = static_cast<double>(s_.decay_steps);
    const double decay_start = std::max(static_cast<double>(s_.warmup_steps), total * (1.0 - fraction_));
    if (step <= decay_start) return s_.lr;
    const double p = (step - decay_start) / (total - decay_start);
    const double factor = shape_ == "cosine" ? 0.5 * (1.0 + std::cos(M_PI * p))
                          : shape_ == "sqrt" ? 1.0 - std::sqrt(p)
                                             : 1.0 - p;
    return s_.min_lr + factor * (s_.lr - s_.min_lr);
  }

 private:
  ScheduleConfig s_;
  double fraction_ = 0.2;
  std::string shape_;
};

const ConfigKey kWarmup{"warmup_steps", "int", "0", "linear warmup to lr"};
const ConfigKey kDecaySteps{"decay_steps", "int", "0",
                            "end of the decay; 0 = train.max_steps, or derived from train.max_time"};

TFM_REGISTER_SCHEDULE("constant", make<constant_rate>, "lr after a linear warmup", {kWarmup});
TFM_REGISTER_SCHEDULE("cosine", make<cosine_rate>,
                      "linear warmup, then cosine from lr to min_lr until decay_steps (nanoGPT's schedule)",
                      {kWarmup, kDecaySteps, {"min_lr", "number", "0", "floor"}});
TFM_REGISTER_SCHEDULE(
    "wsd", [](const ScheduleConfig& s) -> std::unique_ptr<Schedule> { return std::make_unique<WarmupStableDecay>(s); },
    "warmup-stable-decay: linear warmup, lr, then a decay to min_lr over the last decay_fraction of decay_steps",
    {kWarmup, kDecaySteps, {"min_lr", "number", "0", "the rate at decay_steps and after"},
     {"decay_fraction", "number", "0.2", "the share of decay_steps spent decaying, in (0, 1]"},
     {"decay_shape", "string", "\"linear\"", "linear (1 - p) | cosine ((1 + cos(pi p)) / 2) | sqrt (1 - sqrt(p))"}});
TFM_REGISTER_SCHEDULE("noam", make<noam_rate>,
                      "lr * min(step / warmup, sqrt(warmup / step)) (Vaswani et al. 2017, eq. 3, peak lr)", {kWarmup});
}  // namespace

}  // namespace tfm
