// tools/report/page.h: the page is self-contained (nothing fetched: no URL, no
// src or href, no script), says when a run is in progress or has no metrics
// yet, and escapes run names wherever they appear.
#include <gtest/gtest.h>

#include <regex>

#include "test_util.h"
#include "tools/report/page.h"

namespace tfm::report {
namespace {

RunData run(const std::string& name, const std::string& metrics, const std::string& status) {
  RunData r;
  r.dir = r.name = name;
  r.metrics = parse_metrics(metrics);
  r.summary = summarize(r.metrics);
  if (!status.empty()) r.info = parse_run_info({{"status", status}});
  return r;
}

std::string page(const std::vector<RunData>& runs, const std::vector<Heatmap>& heatmaps = {}) {
  return report_html(runs, build_panels(runs, {}), heatmaps, {});
}

// Self-contained: nothing that a browser would fetch.
void expect_self_contained(const std::string& html) {
  for (const char* bad : {"http://", "https://", "src=", "href=", "<script", "@import", "<link", "//fonts"})
    EXPECT_EQ(html.find(bad), std::string::npos) << bad;
  // url(...) only for the panels' own clip paths.
  const std::regex url("url\\((?!#)");
  EXPECT_FALSE(std::regex_search(html, url));
}

const char* kMetrics =
    "{\"step\": 1, \"loss\": 4.0, \"lr\": 0.001, \"grad_norm\": 1.0, \"tokens_per_s\": 100, \"elapsed_s\": 1}\n"
    "{\"step\": 2, \"loss\": 3.0, \"lr\": 0.001, \"grad_norm\": 1.0, \"tokens_per_s\": 100, \"elapsed_s\": 2}\n"
    "{\"step\": 2, \"val_loss\": 3.2, \"val_ppl\": 24.5, \"elapsed_s\": 2.5}\n";

TEST(ReportPage, FinishedRunPageIsSelfContainedWithPanelsAndTable) {
  const std::string html = page({run("runs/a", kMetrics, "done")});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_CONTAINS(html, "<style>");
  EXPECT_CONTAINS(html, "aria-label=\"Loss\"");
  EXPECT_CONTAINS(html, "aria-label=\"Validation perplexity\"");
  EXPECT_CONTAINS(html, "<table class=\"runs\">");
  EXPECT_EQ(html.find("in progress"), std::string::npos);
  expect_self_contained(html);
}

TEST(ReportPage, EmptyAndTornMetricsGiveAnInProgressPage) {
  const std::string empty = page({run("runs/new", "", "running")});
  EXPECT_CONTAINS(empty, "is in progress");
  EXPECT_CONTAINS(empty, "no complete metrics line yet");
  EXPECT_EQ(empty.find("class=\"panel\""), std::string::npos);
  const std::string torn = page({run("runs/live", std::string(kMetrics) + "{\"step\": 3, \"lo", "running")});
  EXPECT_CONTAINS(torn, "is in progress: metrics up to step 2");
  EXPECT_CONTAINS(torn, "partial last line");
  EXPECT_CONTAINS(torn, "class=\"panel\"");
  expect_self_contained(torn);
}

TEST(ReportPage, RunNamesAreEscapedEverywhere) {
  const std::string name = "runs/<b>&\"x\"";
  const std::string html = page({run(name, kMetrics, "running"), run("other", kMetrics, "done")});
  EXPECT_EQ(html.find(name), std::string::npos);
  EXPECT_EQ(html.find("<b>&"), std::string::npos);
  EXPECT_CONTAINS(html, "runs/&lt;b&gt;&amp;&quot;x&quot;");
}

TEST(ReportPage, HeatmapIsInlinedWithoutItsNamespaceUrl) {
  const std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\"><text>a</text></svg>\n";
  EXPECT_EQ(inline_svg(svg), "<svg width=\"10\"><text>a</text></svg>\n");
  const std::string html = page({run("m30k", kMetrics, "done")}, {{"m30k", "the <caption>", inline_svg(svg)}});
  EXPECT_CONTAINS(html, "Attention of the best checkpoint");
  EXPECT_CONTAINS(html, "<svg width=\"10\">");
  EXPECT_CONTAINS(html, "the &lt;caption&gt;");
  expect_self_contained(html);
}

}  // namespace
}  // namespace tfm::report
