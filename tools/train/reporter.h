#pragma once
// What a run tells its user: a live status line on a terminal, log lines
// (stderr and train.log) and metrics.jsonl, each written by rank 0 alone.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/support/progress.h"
#include "tools/train/run_dir.h"

namespace tfm {

// One optimizer step as the trainer reports it (and hands to after_step callbacks).
struct StepInfo {
  int64_t step = 0;
  double loss = 0.0, lr = 0.0, grad_norm = 0.0;
  int64_t tokens = 0;       // this step's (the global batch's target tokens)
  int64_t total_tokens = 0; // so far
  double elapsed = 0.0;     // seconds of training, resumed sessions included
  double eta = 0.0;         // seconds left, from max_steps and max_time
  double comm_wait = 0.0;   // seconds waiting for the gradient reduction
  double z_loss = NAN;      // with train.z_loss: the z term (loss is then the cross-entropy alone)
  bool skipped = false;     // a non-finite step skipped (train.skip_nonfinite)
};

// One evaluation (and what after_eval callbacks receive).
struct EvalInfo {
  int64_t step = 0;
  double val_loss = 0.0;
  double val_bleu = -1.0;  // negative: not measured
  double bleu_bp = 0.0;
  double epoch = -1.0;     // negative: the data has no epochs
  int64_t total_tokens = 0;
  double elapsed = 0.0;
  bool best = false;       // kept as best.safetensors
};

class Reporter {
 public:
  // `write`: rank 0 (the others report nothing); `quiet`: no stderr, the log file still written.
  Reporter(const RunDir& dir, bool write, bool quiet, int64_t max_steps);
  void log(const std::string& line) { progress_.log(line); }
  // Every step: the status line and the tokens/s window. With `line` (every log_every steps
  // and the last) also a metrics line and a log line, and the window restarts.
  void step(const StepInfo& info, bool line);
  void eval(const EvalInfo& info);
  void finish_status() { progress_.finish_status(); }

 private:
  Progress progress_;
  std::ofstream metrics_;  // not opened on ranks other than 0: writes go nowhere
  int64_t max_steps_;
  bool several_ranks_;
  int64_t window_tokens_ = 0, window_steps_ = 0;
  double window_wait_ = 0.0;
  std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
};

}  // namespace tfm
