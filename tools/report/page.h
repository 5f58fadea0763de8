#pragma once
// The report page: one HTML file with its CSS and SVG inline and nothing
// fetched from anywhere (it opens from disk or as an e-mail attachment):
// a note per run in progress or without metrics, the legend, the panels, the
// table of runs and the attention heatmaps of translation runs.
#include <string>
#include <vector>

#include "tools/report/panels.h"
#include "tools/report/run_data.h"

namespace tfm::report {

struct Heatmap {
  std::string run_name, caption;
  std::string svg;  // inline SVG; empty: `caption` says why there is none
};

std::string report_html(const std::vector<RunData>& runs, const std::vector<PanelSpec>& panels,
                        const std::vector<Heatmap>& heatmaps, const PanelOptions& options);

// An SVG document (as tfm attention writes it) made fit to stand inside HTML: without its namespace URL.
std::string inline_svg(std::string svg);

}  // namespace tfm::report
