#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

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

const ConfigKey kWarmup{"warmup_steps", "int", "0", "linear warmup to lr"};

TFM_REGISTER_SCHEDULE("constant", make<constant_rate>, "lr after a linear warmup", {kWarmup});
TFM_REGISTER_SCHEDULE("cosine", make<cosine_rate>,
                      "linear warmup, then cosine from lr to min_lr until decay_steps (nanoGPT's schedule)",
                      {kWarmup,
                       {"decay_steps", "int", "0", "end of the decay; 0 = train.max_steps, or derived from train.max_time"},
                       {"min_lr", "number", "0", "floor"}});
TFM_REGISTER_SCHEDULE("noam", make<noam_rate>,
                      "lr * min(step / warmup, sqrt(warmup / step)) (Vaswani et al. 2017, eq. 3, peak lr)", {kWarmup});
}  // namespace

}  // namespace tfm
