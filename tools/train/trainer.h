#pragma once
// The training loop as a library: a Trainer wires a Task (tokenizer, model,
// data) to its parts (tools/train/: Sharder, LossEvaluator and BleuEvaluator,
// Checkpointer, StopPolicy, Reporter) and steps it. `tfm train` is
// run_training: a config in, a run directory out (config.json, metrics.jsonl,
// train.log, run.json, checkpoints/), with exact resume, atomic checkpoints,
// clean stops on SIGINT/SIGTERM and NaN/Inf detection.
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/precision.h"
#include "optim/ema.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tools/train/checkpointer.h"
#include "tools/train/distributed.h"
#include "tools/train/evaluator.h"
#include "tools/train/reporter.h"
#include "tools/train/run_dir.h"
#include "tools/train/sharder.h"
#include "tools/train/stop_policy.h"
#include "tools/train/task.h"
#include "tools/train/train_config.h"
#include "tools/train/train_precision.h"
#include "tools/train/train_state.h"

namespace tfm {

struct TrainSummary {
  int64_t steps = 0;
  int64_t tokens = 0;
  double wall_seconds = 0.0;
  double best_val_loss = 0.0;
  std::string run_dir;
  bool interrupted = false;
};

// Called on every rank. should_stop is asked once per step; true on any rank stops all of them
// after that step, with a checkpoint, as a signal does.
struct TrainerCallbacks {
  std::function<void(const StepInfo&)> after_step;
  std::function<void(const EvalInfo&)> after_eval;
  std::function<bool()> should_stop;
};

struct TrainerOptions {
  bool resume = false;   // continue from the run directory's last state (--resume)
  bool quiet = false;    // no status or log lines on stderr (train.log is still written)
  // SIGINT/SIGTERM stop the run after the step in progress (the tfm binary turns this on).
  bool handle_signals = false;
  // Of the GEMMs, for training and evaluation (tools/train/train_precision.h); the reason is logged.
  PrecisionChoice precision{Precision::F32, "fp32", ""};
};

// The thread count is the caller's (core/parallel.h); the default generator, which dropout
// draws from, is the trainer's during each step and the caller's again between steps.
class Trainer {
 public:
  // config's optim and train sections drive the run (its model, tokenizer and data sections
  // are not read: they made the task); config.resolved is written as config.json with
  // "model" set to the task's model config. The run directory is prepared by rank 0.
  Trainer(const TrainConfig& config, Task& task, RunDir dir, TrainerOptions options = {},
          TrainerCallbacks callbacks = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One optimizer step, with its log line, evaluation and checkpoint when due. Returns false
  // once the run is over (max_steps, max_time, a signal or should_stop), its last checkpoint
  // written; then call finish().
  bool step();
  // step() until it returns false, then finish().
  TrainSummary run();
  // Waits for the checkpoints, writes run.json and the summary line; every rank returns
  // together.
  TrainSummary finish();
  const TrainState& state() const { return state_; }
  Model& model() { return *task_.model; }

 private:
  TrainState initial_state();
  bool prepare_dir();
  double elapsed() const;
  void describe_start();
  // The sums over the ranks' weighted losses: the cross-entropy, and the z-loss term.
  std::pair<double, double> accumulate_gradients();
  bool handle_nonfinite(int64_t step, double loss, double norm, const StepAgreement& agreement);
  void size_schedule(int64_t step, double probe_elapsed);
  void evaluate(int64_t step);
  void save();
  StepInfo step_info(int64_t step, double loss, double lr, double norm, double comm_wait) const;

  TrainConfig config_;
  Task& task_;  // checked: a tokenizer, a model and data
  RunDir dir_;
  TrainerOptions options_;
  TrainerCallbacks callbacks_;
  const bool root_;
  Sharder sharder_;
  NamedParameters params_;
  std::unique_ptr<Optimizer> optimizer_;
  std::optional<WeightEma> ema_;  // train.ema
  TrainState state_;
  bool dir_ready_;  // prepared by rank 0 before the reporter opens its files
  ScheduleConfig schedule_;
  std::unique_ptr<Schedule> rate_;  // schedule_'s, remade when decay_steps is derived
  bool derive_decay_ = false;
  // The step time is rank 0's over steps (probe_from_, probe_steps_] after the start: the first
  // few, which create the oneDNN primitives and touch fresh memory, are left out.
  int64_t probe_from_ = 0, probe_steps_ = 0;
  double probe_start_ = 0.0;  // rank 0's elapsed time after probe_from_ steps
  std::optional<SignalStop> signals_;
  StopPolicy stop_;
  Reporter reporter_;
  Checkpointer checkpointer_;
  LossEvaluator loss_evaluator_;
  std::optional<BleuEvaluator> bleu_evaluator_;
  dist::GradientReducer reducer_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  double elapsed_before_ = 0.0;
  int64_t first_step_ = 0;
  int64_t step_tokens_ = 0;
  double last_loss_ = NAN;
  bool done_ = false, interrupted_ = false;
};

// `tfm train` (the command line's options).
struct TrainOptions {
  std::string config_path;
  std::vector<std::string> overrides;  // --set key=value
  std::string out_dir;                 // --out
  std::string resume;                  // --resume RUN_DIR or CHECKPOINT
  bool quiet = false;
};

// Parses the config, sets the threads (train.threads; 0: the cores shared out between the MPI
// ranks on this host) and the precision, builds the task and runs a Trainer with signal
// handling. Throws tfm::Error for bad input; RuntimeFailure for failures during training.
TrainSummary run_training(const TrainOptions& options);

}  // namespace tfm
