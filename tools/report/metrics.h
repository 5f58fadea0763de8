#pragma once
// Reading a run's metrics.jsonl (tools/train/trainer.cpp writes it) tolerantly: the
// file of a live run may end in a torn line the trainer is still writing, and
// an older tfm wrote no "tokens". A line that is not a JSON object with a step
// is skipped and counted, never fatal.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tfm::report {

inline constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

// A training line: {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"[, "tokens"]}.
struct TrainPoint {
  int64_t step = 0;
  double loss = kMissing, lr = kMissing, grad_norm = kMissing, tokens_per_s = kMissing;
  double elapsed_s = kMissing, tokens = kMissing;
  double z_loss = kMissing;  // the z-loss term, logged only with train.z_loss > 0
};
// A validation line: {"step", "val_loss", "val_ppl", "elapsed_s"[, "val_bleu", "tokens"]}.
struct EvalPoint {
  int64_t step = 0;
  double val_loss = kMissing, val_ppl = kMissing, val_bleu = kMissing, elapsed_s = kMissing, tokens = kMissing;
};

struct RunMetrics {
  std::vector<TrainPoint> train;
  std::vector<EvalPoint> eval;
  int64_t skipped_lines = 0;  // complete lines that were not a metrics record
  bool torn_tail = false;     // the text ends without a newline: a line being written, ignored
  bool empty() const { return train.empty() && eval.empty(); }
};

RunMetrics parse_metrics(const std::string& text);
// Throws tfm::Error when `path` is missing or unreadable.
RunMetrics read_metrics(const std::string& path);

}  // namespace tfm::report
