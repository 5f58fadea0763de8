#pragma once
// `tfm report RUN_DIR...`: reads each run directory as it is now (a live run
// too), draws its curves and writes one self-contained HTML page.
#include <string>
#include <vector>

#include "tools/report/page.h"
#include "tools/report/panels.h"
#include "tools/report/run_data.h"

namespace tfm::report {

struct ReportOptions {
  std::vector<std::string> run_dirs;
  std::string out = "report.html";
  PanelOptions panels;
};

struct ReportResult {
  std::string out;
  int runs = 0, panels = 0, in_progress = 0;
};

// The attention heatmap of a translation run's best checkpoint on the first sentence of its validation
// source (resolved against the current directory, as tfm train resolved it); a caption says why there is
// none when the checkpoint or the file is missing.
Heatmap best_checkpoint_heatmap(const RunData& run);

// Throws tfm::Error for bad input (no run directories, a missing one, one without metrics.jsonl,
// a bad --x or --smooth); writes options.out atomically.
ReportResult run(const ReportOptions& options);

}  // namespace tfm::report
