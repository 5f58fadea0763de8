#pragma once
// An exponential moving average of the weights (Polyak & Juditsky 1992; as
// timm's ModelEmaV2 and the EMA of Karras et al.): after optimizer step t,
//   ema = decay·ema + (1 − decay)·w   from step `start` on,   ema = w before it,
// in fp32, one OpenMP-parallel pass per parameter. The average is evaluated in
// place of the weights by swapping their values (EmaScope), so that nothing is
// allocated after the one copy made at construction.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "optim/optimizer.h"

namespace tfm {

struct EmaConfig {
  double decay = 0.0;  // in (0, 1); 0: no average
  int64_t start = 0;   // the first step that averages; before it, the average is the weights
  bool enabled() const { return decay > 0.0; }
};

class WeightEma {
 public:
  // Copies each parameter (a parameter listed under two names, tied, is averaged once).
  WeightEma(const NamedParameters& params, const EmaConfig& config);
  const EmaConfig& config() const { return config_; }

  // After optimizer step `step` (1-based) has changed the weights.
  void update(int64_t step);
  // The average := the weights (a resumed run whose state has no average).
  void reset();
  // Exchanges the parameters' values and the averages, element by element; twice restores both.
  void swap();

  // Every parameter's average under the parameter's name, in the parameters' order (the
  // tensors themselves, not copies).
  std::vector<std::pair<std::string, Tensor>> averages() const;
  // Restores averages() of a run with the same parameters; throws naming a missing or mismatched tensor.
  void load(const std::vector<std::pair<std::string, Tensor>>& averages);

 private:
  struct Slot {
    std::string name;
    Variable* param;
    Tensor average;
    bool first;  // false: another name of a parameter already listed (shares its average)
  };
  std::vector<Slot> slots_;
  EmaConfig config_;
};

// While one lives, the model's parameters hold the averages (nothing happens when ema is null).
class EmaScope {
 public:
  explicit EmaScope(WeightEma* ema) : ema_(ema) {
    if (ema_ != nullptr) ema_->swap();
  }
  ~EmaScope() {
    if (ema_ != nullptr) ema_->swap();
  }
  EmaScope(const EmaScope&) = delete;
  EmaScope& operator=(const EmaScope&) = delete;

 private:
  WeightEma* ema_;
};

}  // namespace tfm
