#include "tools/report/report.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/io.h"
#include "tools/train/run_dir.h"
#include "tools/eval/seq2seq_eval.h"

namespace tfm::report {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxSentenceBytes = 300;  // a heatmap of a longer sentence is unreadable

// The first non-empty line of the run's first validation source file, or "" (why in `missing`).
std::string first_validation_sentence(const RunData& run, std::string& missing) {
  const nlohmann::json::json_pointer at("/data/val/source");
  const nlohmann::json source = run.config.contains(at) ? run.config.at(at) : nlohmann::json();
  const std::string file = source.is_array() && !source.empty() && source[0].is_string() ? source[0].get<std::string>()
                           : source.is_string()                                           ? source.get<std::string>()
                                                                                          : "";
  std::ifstream in(file);
  if (file.empty() || !in) {
    missing = "no heatmap: the validation source " + (file.empty() ? "(not in config.json)" : file) +
              " is not readable from the current directory";
    return "";
  }
  std::string line;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) break;
  if (line.size() > kMaxSentenceBytes) line.resize(kMaxSentenceBytes);
  if (line.empty()) missing = "no heatmap: " + file + " has no sentence";
  return line;
}

}  // namespace

Heatmap best_checkpoint_heatmap(const RunData& run) {
  Heatmap h{run.name, "", ""};
  const std::string best = RunDir(run.dir).best();
  std::error_code ec;
  if (!fs::exists(best, ec)) {
    h.caption = "no heatmap: no checkpoints/best.safetensors yet";
    return h;
  }
  AttentionPlotOptions o;
  o.source = first_validation_sentence(run, h.caption);
  if (o.source.empty()) return h;
  try {
    const AttentionPlot plot = attention_plot(best, o);
    h.svg = inline_svg(plot.svg);
    h.caption = "checkpoints/best.safetensors on the first validation sentence \"" + o.source + "\" -> \"" +
                plot.text + "\" (as tfm attention draws it)";
  } catch (const Error& e) {  // a checkpoint being replaced, a sentence too long: the page still comes
    h.caption = std::string("no heatmap: ") + e.what();
  }
  return h;
}

ReportResult run(const ReportOptions& o) {
  TFM_CHECK(!o.run_dirs.empty(), "report: expected at least one RUN_DIR, found none");
  TFM_CHECK(!o.out.empty(), "report: --out must name the HTML file to write");
  std::vector<RunData> runs;
  for (const std::string& dir : o.run_dirs) runs.push_back(load_run(dir));
  const std::vector<PanelSpec> panels = build_panels(runs, o.panels);
  std::vector<Heatmap> heatmaps;
  for (const RunData& r : runs)
    if (r.translation()) heatmaps.push_back(best_checkpoint_heatmap(r));
  write_file_atomic(o.out, report_html(runs, panels, heatmaps, o.panels));
  ReportResult result{o.out, static_cast<int>(runs.size()), static_cast<int>(panels.size()), 0};
  for (const RunData& r : runs) result.in_progress += r.in_progress();
  return result;
}

}  // namespace tfm::report
