#pragma once
// Learning-rate schedules, as functions of the step (1-based: the rate of the
// step about to be taken). Each registers by name (TFM_REGISTER_SCHEDULE), a
// user's own included; ScheduleConfig::name picks one.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/registry.h"

namespace tfm {

struct ScheduleConfig {
  std::string name = "constant";  // a registered schedule: constant | cosine | noam | wsd | a user's own
  double lr = 1e-3;               // peak rate
  int64_t warmup_steps = 0;
  int64_t decay_steps = 0;        // cosine, wsd: steps from 0 to the end of the decay
  double min_lr = 0.0;
  // The keys of optim that a registered schedule declares beyond the ones above, as given.
  nlohmann::json options = nlohmann::json::object();
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double rate(int64_t step) const = 0;
};

using ScheduleRegistry = Registry<Schedule, const ScheduleConfig&>;
ScheduleRegistry& schedule_registry();

// Throws tfm::Error naming an unknown s.name, the registered ones and the nearest.
std::unique_ptr<Schedule> make_schedule(const ScheduleConfig& s);

// constant: lr after a linear warmup.
// cosine: linear warmup to lr over warmup_steps, then cosine from lr to min_lr
//   until decay_steps, min_lr after (nanoGPT's schedule).
// noam (Vaswani et al. 2017, eq. 3, normalised to peak lr at warmup_steps):
//   lr · min(step / warmup, √(warmup / step)).
// wsd (warmup-stable-decay): linear warmup, lr until step D = max(warmup_steps,
//   (1 − decay_fraction)·decay_steps), then min_lr + f(p)·(lr − min_lr) with
//   p = (step − D) / (decay_steps − D) and f by decay_shape (linear 1 − p, cosine
//   (1 + cos πp)/2, sqrt 1 − √p), min_lr from decay_steps on. Options in s.options.
double learning_rate(const ScheduleConfig& s, int64_t step);

}  // namespace tfm

// TFM_REGISTER_SCHEDULE("linear", factory, "help line", {{"end_lr", "number", "0", "..."}}): factory
// builds a std::unique_ptr<Schedule> from (const ScheduleConfig&).
#define TFM_REGISTER_SCHEDULE(...) TFM_REGISTRY_ADD(::tfm::schedule_registry(), __VA_ARGS__)
