#pragma once
// The training state that `tfm train --resume` continues from, beside the
// model checkpoint: checkpoints/last.state.safetensors holds a copy of the
// parameters (as "model.<name>"), the optimizer's state tensors, with train.ema
// the average of the weights (as "ema.<name>"), and __metadata__ "train_state", a JSON object with the counters and RNG
// positions below (docs/checkpoint-format.md).
#include <cmath>
#include <cstdint>
#include <string>

#include "models/checkpoint.h"
#include "models/model.h"
#include "optim/ema.h"
#include "optim/optimizer.h"

namespace tfm {

// Everything needed to continue a run exactly, beside the model weights.
struct TrainState {
  int64_t step = 0;
  int64_t tokens = 0;
  double elapsed = 0.0;
  double best_val_loss = INFINITY;
  double best_val_bleu = -1.0;  // -1: none yet
  int64_t decay_steps = 0;  // resolved (may be derived from max_time)
  uint64_t data_seed = 0, data_offset = 0, dropout_seed = 0, dropout_offset = 0;
};

void save_train_state(const std::string& path, const TrainState& state, const NamedTensors& weights,
                      const NamedTensors& optimizer_state, const NamedTensors& ema_averages = {});
// Loads the state into `model`, `opt` and `ema` (which must match the file's tensors; a
// state without averages starts `ema` from the weights, and its averages are ignored when
// `ema` is null) and returns the counters; throws tfm::Error naming the file on anything malformed.
TrainState load_train_state(const std::string& path, Model& model, Optimizer& opt, WeightEma* ema = nullptr);

}  // namespace tfm
