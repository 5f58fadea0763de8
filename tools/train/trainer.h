#pragma once
// `tfm train`: runs a training config into a run directory (config.json,
// metrics.jsonl, train.log, checkpoints/), with exact resume, atomic
// checkpoints, clean stops on SIGINT/SIGTERM and NaN/Inf detection.
#include <string>
#include <vector>

#include "core/error.h"

namespace tfm {

struct TrainOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // --set key=value
  std::string out_dir;                 // --out
  std::string resume;                  // --resume RUN_DIR or CHECKPOINT
  bool quiet = false;
};

struct TrainSummary {
  int64_t steps = 0;
  int64_t tokens = 0;
  double wall_seconds = 0.0;
  double best_val_loss = 0.0;
  std::string run_dir;
  bool interrupted = false;
};

// Throws tfm::Error for bad input; RuntimeFailure for failures during training.
TrainSummary run_training(const TrainOptions& options);

}  // namespace tfm
