// tools/report/axis.h: nice ranges and ticks, log decades, the robust y range
// that cuts an early spike, time units and tick labels, against known inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tools/report/axis.h"

namespace tfm::report {
namespace {

TEST(ReportAxis, NiceStepIsOneTwoOrFiveTimesAPowerOfTen) {
  EXPECT_DOUBLE_EQ(nice_step(1.914), 2);
  EXPECT_DOUBLE_EQ(nice_step(1.0), 1);
  EXPECT_DOUBLE_EQ(nice_step(0.2), 0.2);
  EXPECT_DOUBLE_EQ(nice_step(0.03), 0.05);
  EXPECT_DOUBLE_EQ(nice_step(7), 10);
  EXPECT_DOUBLE_EQ(nice_step(2400), 5000);
}

TEST(ReportAxis, LinearRangeWidensToNiceTicks) {
  const Axis a = linear_axis(0.13, 9.7);
  EXPECT_EQ(a.ticks, (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_DOUBLE_EQ(a.lo, 0);
  EXPECT_DOUBLE_EQ(a.hi, 10);
  EXPECT_FALSE(a.log);
  // Decimal steps land on the decimal values, not on 2.2000000000000002.
  const Axis b = linear_axis(2.31, 2.87);
  EXPECT_EQ(b.ticks, (std::vector<double>{2.3, 2.4, 2.5, 2.6, 2.7, 2.8, 2.9}));
  // A step smaller than the target's when the larger one would waste a third of the axis.
  EXPECT_EQ(linear_axis(0, 100.7).ticks, (std::vector<double>{0, 20, 40, 60, 80, 100, 120}));
  EXPECT_EQ(linear_axis(0, 2162).ticks, (std::vector<double>{0, 500, 1000, 1500, 2000, 2500}));
  // Steps 1..20000: ticks every 5000.
  EXPECT_EQ(linear_axis(0, 20000).ticks, (std::vector<double>{0, 5000, 10000, 15000, 20000}));
}

TEST(ReportAxis, ConstantDataGetsARangeAroundIt) {
  const Axis a = linear_axis(3, 3);
  EXPECT_LT(a.lo, 3);
  EXPECT_GT(a.hi, 3);
  EXPECT_GE(a.ticks.size(), 2u);
}

TEST(ReportAxis, LogAxisTicksEveryDecade) {
  const Axis a = log_axis(0.05, 30);
  EXPECT_TRUE(a.log);
  EXPECT_DOUBLE_EQ(a.lo, 0.01);
  EXPECT_DOUBLE_EQ(a.hi, 100);
  EXPECT_EQ(a.ticks, (std::vector<double>{0.01, 0.1, 1, 10, 100}));
  // Within about one decade: 1, 2 and 5 x 10^k as well.
  const Axis b = log_axis(1.5, 4.2);
  EXPECT_DOUBLE_EQ(b.lo, 1);
  EXPECT_DOUBLE_EQ(b.hi, 5);
  EXPECT_EQ(b.ticks, (std::vector<double>{1, 2, 5}));
}

TEST(ReportAxis, EarlySpikeIsClippedToTheLaterRange) {
  std::vector<double> loss = {10, 8, 6, 4};
  for (int i = 0; i < 16; ++i) loss.push_back(3.0 - 0.05 * i);  // 3.0 .. 2.25
  const YRange r = robust_range({loss}, false);
  EXPECT_TRUE(r.clipped);
  EXPECT_DOUBLE_EQ(r.lo, 2.25);
  EXPECT_GT(r.hi, 3.0);
  EXPECT_LT(r.hi, 4.0);
  // A curve that only falls steadily keeps its whole range.
  std::vector<double> steady;
  for (int i = 0; i < 20; ++i) steady.push_back(3.0 - 0.05 * i);
  const YRange s = robust_range({steady}, false);
  EXPECT_FALSE(s.clipped);
  EXPECT_DOUBLE_EQ(s.hi, 3.0);
  // NaNs are ignored; log ranges ignore values <= 0.
  const YRange l = robust_range({{NAN, 0.0, 1.0, 100.0, 10.0, 10.0}}, true);
  EXPECT_DOUBLE_EQ(l.lo, 1.0);
  EXPECT_NEAR(l.hi, 100.0, 1e-9);
}

TEST(ReportAxis, TimeUnitFollowsTheLongestTime) {
  EXPECT_STREQ(time_unit(90).name, "s");
  EXPECT_STREQ(time_unit(1500).name, "min");
  EXPECT_DOUBLE_EQ(time_unit(1500).seconds, 60);
  EXPECT_STREQ(time_unit(4 * 3600).name, "h");
  // 25 minutes in minutes: ticks 0, 5, ..., 25.
  EXPECT_EQ(linear_axis(0, 1500 / time_unit(1500).seconds).ticks, (std::vector<double>{0, 5, 10, 15, 20, 25}));
}

TEST(ReportAxis, TickLabelsUseKAndMAndTheStepsDecimals) {
  EXPECT_EQ(tick_label(20000, 10000), "20k");
  EXPECT_EQ(tick_label(15000, 5000), "15k");
  EXPECT_EQ(tick_label(1.5e6, 5e5), "1.5M");
  EXPECT_EQ(tick_label(0, 5e5), "0");
  EXPECT_EQ(tick_label(500, 100), "500");
  EXPECT_EQ(tick_label(2.4, 0.2), "2.4");
  EXPECT_EQ(tick_label(0.0005, 0.0005), "0.0005");
  EXPECT_EQ(log_tick_label(0.01), "0.01");
  EXPECT_EQ(log_tick_label(100), "100");
  EXPECT_EQ(log_tick_label(1e4), "10k");
  EXPECT_EQ(log_tick_label(1e6), "1M");
  EXPECT_EQ(format_count(1234), "1234");
  EXPECT_EQ(format_count(12345), "12.3k");
  EXPECT_EQ(format_count(4.56e6), "4.56M");
  EXPECT_EQ(format_count(NAN), "-");
}

}  // namespace
}  // namespace tfm::report
