#include "tools/report/table.h"

#include <cmath>
#include <cstdio>
#include <functional>

#include "tools/eval/heatmap.h"
#include "tools/support/progress.h"
#include "tools/report/axis.h"
#include "tools/report/config_diff.h"
#include "tools/report/plot.h"

namespace tfm::report {
namespace {

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string at_step(const Best& b, const std::function<std::string(double)>& show) {
  return std::isfinite(b.value) ? show(b.value) + " (step " + std::to_string(b.step) + ")" : "-";
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }
std::string count_or_dash(int64_t n) { return n > 0 ? std::to_string(n) : "-"; }

void row(std::string& html, const std::string& label, const std::vector<RunData>& runs,
         const std::function<std::string(const RunData&)>& cell, const char* row_class = "") {
  html += std::string("<tr class=\"") + row_class + "\"><th>" + xml_escape(label) + "</th>";
  for (const RunData& r : runs) html += "<td>" + xml_escape(cell(r)) + "</td>";
  html += "</tr>\n";
}

void config_rows(std::string& html, const std::vector<RunData>& runs) {
  std::vector<std::map<std::string, std::string>> flat;
  for (const RunData& r : runs) flat.push_back(flatten_config(r.config));
  for (const std::string& key : differing_keys(flat)) {
    row(html, key, runs, [&](const RunData& r) {
      const auto& values = flat[static_cast<size_t>(&r - runs.data())];
      const auto it = values.find(key);
      return it == values.end() ? std::string("(not set)") : display_value(it->second);
    }, "config");
  }
}

}  // namespace

std::string run_table_html(const std::vector<RunData>& runs) {
  std::string html = "<table class=\"runs\">\n<tr><th>run</th>";
  for (size_t i = 0; i < runs.size(); ++i)
    html += "<th>" + run_swatch_svg(static_cast<int>(i)) + " " + xml_escape(runs[i].name) + "</th>";
  html += "</tr>\n";
  row(html, "status", runs, [](const RunData& r) { return r.status_text(); });
  config_rows(html, runs);
  row(html, "steps", runs, [](const RunData& r) { return std::to_string(r.summary.steps); });
  row(html, "tokens", runs, [](const RunData& r) { return format_count(r.summary.tokens); });
  row(html, "wall time", runs, [](const RunData& r) {
    return std::isfinite(r.summary.wall_s) ? format_duration(r.summary.wall_s) : std::string("-");
  });
  row(html, "best val loss", runs,
      [](const RunData& r) { return at_step(r.summary.val_loss, [](double v) { return fixed(v, 4); }); });
  row(html, "best val perplexity", runs,
      [](const RunData& r) { return at_step(r.summary.val_loss, [](double v) { return fixed(std::exp(v), 3); }); });
  bool any_bleu = false;
  for (const RunData& r : runs) any_bleu = any_bleu || std::isfinite(r.summary.val_bleu.value);
  if (any_bleu)
    row(html, "best val BLEU", runs,
        [](const RunData& r) { return at_step(r.summary.val_bleu, [](double v) { return fixed(v, 2); }); });
  row(html, "tokens/s (median)", runs, [](const RunData& r) { return format_count(r.summary.tokens_per_s); });
  row(html, "tfm version", runs, [](const RunData& r) { return or_dash(r.info.version); });
  row(html, "commit", runs, [](const RunData& r) { return or_dash(r.info.commit); });
  row(html, "threads", runs, [](const RunData& r) { return count_or_dash(r.info.threads); });
  row(html, "MPI ranks", runs, [](const RunData& r) { return count_or_dash(r.info.mpi_ranks); });
  return html + "</table>\n";
}

}  // namespace tfm::report
