#pragma once
// Learning-rate schedules, as functions of the step (1-based: the rate of the
// step about to be taken).
#include <cstdint>
#include <string>

namespace tfm {

struct ScheduleConfig {
  std::string name = "constant";  // constant | cosine | noam
  double lr = 1e-3;               // peak rate
  int64_t warmup_steps = 0;
  int64_t decay_steps = 0;        // cosine: steps from 0 to the end of the decay
  double min_lr = 0.0;
};

// constant: lr after a linear warmup.
// cosine: linear warmup to lr over warmup_steps, then cosine from lr to min_lr
//   until decay_steps, min_lr after (nanoGPT's schedule).
// noam (Vaswani et al. 2017, eq. 3, normalised to peak lr at warmup_steps):
//   lr · min(step / warmup, √(warmup / step)).
double learning_rate(const ScheduleConfig& s, int64_t step);

}  // namespace tfm
