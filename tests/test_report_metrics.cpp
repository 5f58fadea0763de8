// tools/report/metrics.h: metrics.jsonl read tolerantly: empty files, a torn
// last line (a live run mid-write), foreign lines, old lines without tokens.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "tools/report/metrics.h"

namespace tfm::report {
namespace {

TEST(ReportMetrics, EmptyFileHasNoRecords) {
  const RunMetrics m = parse_metrics("");
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m.torn_tail);
  EXPECT_EQ(m.skipped_lines, 0);
}

TEST(ReportMetrics, OnlyATornLineIsNoRecordAndSaysTorn) {
  const RunMetrics m = parse_metrics("{\"step\": 1, \"loss\": 4.1, \"l");
  EXPECT_TRUE(m.empty());
  EXPECT_TRUE(m.torn_tail);
  EXPECT_EQ(m.skipped_lines, 0);
}

TEST(ReportMetrics, PartialFileKeepsTheCompleteLines) {
  const std::string text =
      "{\"step\": 1, \"loss\": 4.5, \"lr\": 0.001, \"grad_norm\": 2.0, \"tokens_per_s\": 900, \"elapsed_s\": 0.5, "
      "\"tokens\": 64}\n"
      "not json\n"
      "\n"
      "{\"step\": 2, \"val_loss\": 4.0, \"val_ppl\": 54.6, \"elapsed_s\": 1.0, \"val_bleu\": 3.5}\n"
      "{\"val_loss\": 1.0}\n"
      "{\"step\": 3, \"loss\": 3.9}";  // complete JSON, but unterminated: still being written
  const RunMetrics m = parse_metrics(text);
  ASSERT_EQ(m.train.size(), 1u);
  ASSERT_EQ(m.eval.size(), 1u);
  EXPECT_TRUE(m.torn_tail);
  EXPECT_EQ(m.skipped_lines, 2);  // "not json" and the line without a step
  EXPECT_EQ(m.train[0].step, 1);
  EXPECT_DOUBLE_EQ(m.train[0].loss, 4.5);
  EXPECT_DOUBLE_EQ(m.train[0].lr, 0.001);
  EXPECT_DOUBLE_EQ(m.train[0].grad_norm, 2.0);
  EXPECT_DOUBLE_EQ(m.train[0].tokens_per_s, 900);
  EXPECT_DOUBLE_EQ(m.train[0].elapsed_s, 0.5);
  EXPECT_DOUBLE_EQ(m.train[0].tokens, 64);
  EXPECT_EQ(m.eval[0].step, 2);
  EXPECT_DOUBLE_EQ(m.eval[0].val_loss, 4.0);
  EXPECT_DOUBLE_EQ(m.eval[0].val_bleu, 3.5);
  EXPECT_TRUE(std::isnan(m.eval[0].tokens));  // an older tfm's line
}

TEST(ReportMetrics, MissingFileIsAnError) {
  testing::TempDir dir;
  EXPECT_CONTAINS(testing::error_message([&] { read_metrics(dir.path("metrics.jsonl")); }), "metrics.jsonl");
}

}  // namespace
}  // namespace tfm::report
