#pragma once
// A run's checkpoints (tools/train/run_dir.h), written on a background thread so that
// training goes on during serialisation and fsync: one job at a time in
// submission order, each from its own copy of the tensors taken between steps;
// every file is written atomically (core/io.h).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "models/model.h"
#include "optim/ema.h"
#include "optim/optimizer.h"
#include "tools/train/run_dir.h"
#include "tools/train/train_state.h"

namespace tfm {

class Checkpointer {
 public:
  // `keep` > 0 also keeps step-N.safetensors of the `keep` latest saves (for
  // tfm average). A Checkpointer that does not `write` (the ranks other than
  // 0) does nothing.
  Checkpointer(RunDir dir, nlohmann::json model_config, nlohmann::json tokenizer_json, int64_t keep, bool write);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // last.safetensors, ema.safetensors (with an average), then last.state.safetensors:
  // a crash between them leaves an older state, from which --resume repeats the same
  // steps, never a state without the last.safetensors that --resume takes the tokenizer from.
  void save(const TrainState& state, const Model& model, const Optimizer& optimizer, const WeightEma* ema = nullptr);
  void save_best(const Model& model);
  // Returns when every save so far is on disk; a save that failed throws
  // RuntimeFailure ("checkpoint failed: ...").
  void wait();

 private:
  void submit(std::function<void()> job);
  RunDir dir_;
  nlohmann::json model_config_, tokenizer_json_;
  int64_t keep_;
  bool write_;
  std::thread thread_;
  std::string error_;
};

// Writes checkpoints/step-N.safetensors and removes all but the `keep` latest.
void keep_last_checkpoints(const RunDir& dir, int64_t step, int64_t keep, const NamedTensors& weights,
                           const nlohmann::json& model_config, const nlohmann::json& tokenizer_json);

}  // namespace tfm
