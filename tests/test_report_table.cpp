// tools/report/table.h: the table of runs lists exactly the config keys that
// differ, the best values with their steps, and escapes every text it shows.
#include <gtest/gtest.h>

#include "test_util.h"
#include "tools/report/table.h"

namespace tfm::report {
namespace {

RunData run(const std::string& name, const nlohmann::json& config, const std::string& metrics) {
  RunData r;
  r.dir = r.name = name;
  r.config = config;
  r.metrics = parse_metrics(metrics);
  r.summary = summarize(r.metrics);
  return r;
}

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

const nlohmann::json kConfig = {{"model", {{"d_model", 128}, {"attention", {{"type", "global"}}}}},
                                {"optim", {{"lr", 0.002}, {"name", "adamw"}}},
                                {"train", {{"seed", 1}}}};

TEST(ReportTable, TwoRunsListExactlyTheDifferingConfigKeys) {
  nlohmann::json other = kConfig;
  other["optim"]["lr"] = 0.0005;
  other["model"]["attention"]["type"] = "local";
  const std::string html = run_table_html({run("a", kConfig, ""), run("b", other, "")});
  EXPECT_EQ(count(html, "<tr class=\"config\">"), 2u);
  EXPECT_CONTAINS(html, "<th>optim.lr</th><td>0.002</td><td>0.0005</td>");
  EXPECT_CONTAINS(html, "<th>model.attention.type</th><td>global</td><td>local</td>");
  for (const char* same : {"model.d_model", "optim.name", "train.seed"}) EXPECT_EQ(html.find(same), std::string::npos);
}

TEST(ReportTable, BestValuesComeWithTheirSteps) {
  const std::string html = run_table_html({run("a", kConfig,
                                               "{\"step\": 5, \"val_loss\": 2.0, \"val_bleu\": 7.5}\n"
                                               "{\"step\": 10, \"val_loss\": 2.5, \"val_bleu\": 6.0}\n")});
  EXPECT_CONTAINS(html, "<th>best val loss</th><td>2.0000 (step 5)</td>");
  EXPECT_CONTAINS(html, "<th>best val perplexity</th><td>7.389 (step 5)</td>");
  EXPECT_CONTAINS(html, "<th>best val BLEU</th><td>7.50 (step 5)</td>");
  EXPECT_EQ(run_table_html({run("lm", kConfig, "")}).find("BLEU"), std::string::npos);
}

TEST(ReportTable, RunNamesAndConfigValuesAreEscaped) {
  nlohmann::json other = kConfig;
  other["optim"]["name"] = "a<b & \"c\"";
  const std::string html = run_table_html({run("runs/<x>&\"y\"", kConfig, ""), run("b", other, "")});
  EXPECT_CONTAINS(html, "runs/&lt;x&gt;&amp;&quot;y&quot;");
  EXPECT_CONTAINS(html, "a&lt;b &amp; &quot;c&quot;");
  EXPECT_EQ(html.find("<x>"), std::string::npos);
  EXPECT_EQ(html.find("a<b"), std::string::npos);
  EXPECT_EQ(html.find("\"c\""), std::string::npos);
}

}  // namespace
}  // namespace tfm::report
