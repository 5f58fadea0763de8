#include "tools/report/page.h"

#include "tools/support/build_info.h"
#include "tools/eval/heatmap.h"
#include "tools/report/plot.h"
#include "tools/report/table.h"

namespace tfm::report {
namespace {

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1180px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #666; font-size: 13px; margin: 0 0 12px; }
.note { padding: 8px 12px; border-radius: 4px; margin: 6px 0; font-size: 14px; }
.live { background: #fff4d6; border: 1px solid #e6b800; } .empty { background: #f1f1f1; border: 1px solid #bbb; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 13px; margin: 8px 0; }
.legend span { white-space: nowrap; } .key { color: #555; font-size: 12px; margin: 2px 0 10px; }
.panels { display: flex; flex-wrap: wrap; gap: 12px; } .panel { border: 1px solid #ddd; max-width: 100%; height: auto; }
table.runs { border-collapse: collapse; font-size: 13px; }
table.runs th, table.runs td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
table.runs tr.config th { font-family: monospace; font-weight: normal; background: #f7f7ff; }
.heatmap { margin: 8px 0 16px; } .heatmap svg { max-width: 100%; height: auto; border: 1px solid #ddd; }
)";

std::string notes(const std::vector<RunData>& runs) {
  std::string html;
  for (const RunData& r : runs) {
    const std::string name = "<b>" + xml_escape(r.name) + "</b>";
    if (r.in_progress()) {
      std::string text = name + " is in progress: metrics up to step " + std::to_string(r.summary.steps);
      if (r.metrics.torn_tail) text += " (a partial last line, still being written, was left out)";
      if (!r.info.recorded) text += "; its directory has no run.json, so the partial line is the only sign";
      html += "<p class=\"note live\">" + text + ". Run tfm report again for newer figures.</p>\n";
    }
    if (r.metrics.empty())
      html += "<p class=\"note empty\">" + name + " has no complete metrics line yet: nothing to plot for it.</p>\n";
    if (r.metrics.skipped_lines > 0)
      html += "<p class=\"note empty\">" + name + ": " + std::to_string(r.metrics.skipped_lines) +
              " lines of metrics.jsonl were not metrics records and were skipped.</p>\n";
  }
  return html;
}

std::string legend(const std::vector<RunData>& runs, int window) {
  std::string html = "<div class=\"legend\">";
  for (size_t i = 0; i < runs.size(); ++i)
    html += "<span>" + run_swatch_svg(static_cast<int>(i)) + " " + xml_escape(runs[i].name) + "</span>";
  html += "</div>\n<p class=\"key\">Loss and gradient norm: faint, every logged step; line, " +
          (window > 1 ? "the mean of the last " + std::to_string(window) + " logged steps" : std::string("raw")) +
          "; dots, validation. Hover a curve for its run.</p>\n";
  return html;
}

std::string heatmap_section(const std::vector<Heatmap>& heatmaps) {
  if (heatmaps.empty()) return "";
  std::string html = "<h2>Attention of the best checkpoint</h2>\n";
  for (const Heatmap& h : heatmaps) {
    html += "<div class=\"heatmap\"><p class=\"meta\"><b>" + xml_escape(h.run_name) + "</b>: " +
            xml_escape(h.caption) + "</p>\n" + h.svg + "</div>\n";
  }
  return html;
}

}  // namespace

std::string inline_svg(std::string svg) {
  const std::string xmlns = " xmlns=\"http://www.w3.org/2000/svg\"";  // implied for <svg> inside HTML
  for (size_t at = svg.find(xmlns); at != std::string::npos; at = svg.find(xmlns, at)) svg.erase(at, xmlns.size());
  return svg;
}

std::string report_html(const std::vector<RunData>& runs, const std::vector<PanelSpec>& panels,
                        const std::vector<Heatmap>& heatmaps, const PanelOptions& options) {
  std::string names;
  for (const RunData& r : runs) names += (names.empty() ? "" : ", ") + r.name;
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  html += "<title>tfm report: " + xml_escape(names) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>tfm report</h1>\n<p class=\"meta\">" + xml_escape(names) + " &middot; x: " + xml_escape(options.x) +
          (options.log_y ? " &middot; log y" : "") + " &middot; tfm " + xml_escape(build_version()) + "</p>\n";
  html += notes(runs);
  if (!panels.empty()) {
    html += legend(runs, smoothing_window(runs, options.smooth)) + "<div class=\"panels\">\n";
    for (const PanelSpec& p : panels) html += panel_svg(p);
    html += "</div>\n";
  }
  html += "<h2>Runs</h2>\n" + run_table_html(runs) + heatmap_section(heatmaps);
  return html + "</body>\n</html>\n";
}

}  // namespace tfm::report
