#pragma once
// One run directory as the report sees it: its config, its metrics, what
// run.json records of the tfm that ran it and whether it has ended, and the
// figures of the table (best validation loss and BLEU with their steps).
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/report/metrics.h"

namespace tfm::report {

// run.json (tools/train/run_dir.h). Run directories of a tfm before it have none.
struct RunInfo {
  bool recorded = false;
  std::string status;  // "running", "done" or "interrupted"
  std::string version, commit;
  int64_t threads = 0, mpi_ranks = 0;
  double tokens = kMissing;  // the final count, once the run has ended
};

struct Best {
  double value = kMissing;
  int64_t step = 0;
};

struct RunSummary {
  int64_t steps = 0;
  double tokens = kMissing, wall_s = kMissing, tokens_per_s = kMissing;  // tokens/s: the median of the lines
  Best val_loss, val_bleu;  // the lowest loss, the highest BLEU
};

struct RunData {
  std::string dir, name;
  nlohmann::json config;  // {} when config.json is missing
  RunMetrics metrics;
  RunInfo info;
  RunSummary summary;
  // run.json says "running"; without run.json, a torn last metrics line is the only sign.
  bool in_progress() const;
  bool translation() const;  // parallel data: data.train is {"source", "target"}
  std::string status_text() const;
};

RunSummary summarize(const RunMetrics& metrics);
RunInfo parse_run_info(const nlohmann::json& run_json);
// Throws tfm::Error when `dir` is not a directory or has no metrics.jsonl.
RunData load_run(const std::string& dir);

}  // namespace tfm::report
