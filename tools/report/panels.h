#pragma once
// The report's panels from the runs' metrics: loss (raw training loss faint,
// its moving mean, validation points), validation perplexity and BLEU,
// learning rate, tokens/s and gradient norm, against step, wall-clock time or
// tokens. A panel no run has data for is left out.
#include <string>
#include <vector>

#include "tools/report/plot.h"
#include "tools/report/run_data.h"

namespace tfm::report {

struct PanelOptions {
  std::string x = "step";  // step | time | tokens
  bool log_y = false;      // loss, perplexity and gradient norm on log axes
  int smooth = 0;          // moving-mean window in training lines; 0: auto, 1: none
};

// The mean of the last `window` values at each point (fewer at the start); NaNs skipped.
std::vector<double> moving_mean(const std::vector<double>& values, int window);
// --smooth 0: about a twentieth of the longest run's training lines, 1 to 200.
int smoothing_window(const std::vector<RunData>& runs, int requested);

// Throws tfm::Error for an unknown x, or x = tokens when a run's metrics do not record tokens.
std::vector<PanelSpec> build_panels(const std::vector<RunData>& runs, const PanelOptions& options);

}  // namespace tfm::report
