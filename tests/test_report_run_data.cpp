// tools/report/run_data.h: a run directory as the report reads it: the errors
// for what is not one, run.json's status (and its absence in older run
// directories), and the best validation figures with their steps.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "tools/report/run_data.h"

namespace tfm::report {
namespace {
using tfm::testing::error_message;
using tfm::testing::TempDir;

TEST(ReportRunData, BadDirectoriesAreErrorsThatSayWhatWasExpected) {
  TempDir dir;
  const std::string missing = error_message([&] { load_run(dir.path("nope")); });
  EXPECT_CONTAINS(missing, "expected a run directory");
  EXPECT_CONTAINS(missing, "nope");
  dir.file("file", "x");
  EXPECT_CONTAINS(error_message([&] { load_run(dir.path("file")); }), "found a file");
  std::filesystem::create_directories(dir.path("run"));
  EXPECT_CONTAINS(error_message([&] { load_run(dir.path("run")); }), "has no metrics.jsonl");
}

TEST(ReportRunData, StatusComesFromRunJson) {
  TempDir dir;
  std::filesystem::create_directories(dir.path("run"));
  dir.file("run/metrics.jsonl", "{\"step\": 1, \"loss\": 3.0}\n{\"step\": 2, \"lo");
  // No run.json (an older tfm): the torn line is the sign of a live run.
  RunData r = load_run(dir.path("run"));
  EXPECT_TRUE(r.in_progress());
  EXPECT_EQ(r.summary.steps, 1);
  dir.file("run/metrics.jsonl", "{\"step\": 1, \"loss\": 3.0}\n");
  r = load_run(dir.path("run"));
  EXPECT_FALSE(r.in_progress());
  EXPECT_CONTAINS(r.status_text(), "not recorded");
  dir.file("run/run.json", R"({"status": "running", "tfm_version": "0.1.0", "commit": "abc", "threads": 2,
                               "mpi_ranks": 1})");
  r = load_run(dir.path("run"));
  EXPECT_TRUE(r.in_progress());
  EXPECT_EQ(r.status_text(), "in progress");
  EXPECT_EQ(r.info.commit, "abc");
  EXPECT_EQ(r.info.threads, 2);
  dir.file("run/run.json", R"({"status": "done", "tokens": 4096})");
  r = load_run(dir.path("run"));
  EXPECT_FALSE(r.in_progress());
  EXPECT_EQ(r.status_text(), "done");
  EXPECT_DOUBLE_EQ(r.summary.tokens, 4096);
  dir.file("run/run.json", "{\"status\": \"runn");  // not tfm's: ignored
  EXPECT_FALSE(load_run(dir.path("run")).info.recorded);
}

TEST(ReportRunData, SummaryHasTheBestValuesAndTheirSteps) {
  const RunMetrics m = parse_metrics(
      "{\"step\": 10, \"loss\": 3.0, \"tokens_per_s\": 100, \"elapsed_s\": 1, \"tokens\": 640}\n"
      "{\"step\": 10, \"val_loss\": 2.5, \"val_bleu\": 4.0, \"elapsed_s\": 1.5}\n"
      "{\"step\": 20, \"loss\": 2.0, \"tokens_per_s\": 300, \"elapsed_s\": 2, \"tokens\": 1280}\n"
      "{\"step\": 20, \"val_loss\": 2.1, \"val_bleu\": 3.0, \"elapsed_s\": 2.5}\n"
      "{\"step\": 30, \"loss\": 2.2, \"tokens_per_s\": 200, \"elapsed_s\": 3, \"tokens\": 1920}\n"
      "{\"step\": 30, \"val_loss\": 2.3, \"val_bleu\": 5.0, \"elapsed_s\": 3.5}\n");
  const RunSummary s = summarize(m);
  EXPECT_EQ(s.steps, 30);
  EXPECT_DOUBLE_EQ(s.tokens, 1920);
  EXPECT_DOUBLE_EQ(s.wall_s, 3.5);
  EXPECT_DOUBLE_EQ(s.tokens_per_s, 200);  // the median
  EXPECT_DOUBLE_EQ(s.val_loss.value, 2.1);
  EXPECT_EQ(s.val_loss.step, 20);
  EXPECT_DOUBLE_EQ(s.val_bleu.value, 5.0);
  EXPECT_EQ(s.val_bleu.step, 30);
  EXPECT_TRUE(std::isnan(summarize(RunMetrics{}).val_loss.value));
}

TEST(ReportRunData, TranslationRunsAreThoseWithParallelData) {
  RunData r;
  r.config = {{"data", {{"train", {{"source", {"a.en"}}, {"target", {"a.de"}}}}}}};
  EXPECT_TRUE(r.translation());
  r.config = {{"data", {{"train", {"corpus.txt"}}}}};
  EXPECT_FALSE(r.translation());
  r.config = nlohmann::json::object();
  EXPECT_FALSE(r.translation());
}

}  // namespace
}  // namespace tfm::report
