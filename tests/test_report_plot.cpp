// tools/report/plot.h: data points land on the expected pixels (linear and log
// axes), the clip note appears when an early spike is cut, labels are escaped,
// and runs past the palette's length get dash patterns.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "test_util.h"
#include "tools/report/plot.h"

namespace tfm::report {
namespace {

PanelSpec one_curve(std::vector<double> x, std::vector<double> y, bool log_y = false) {
  PanelSpec p{"p", "Panel", "step", "loss", {}, log_y};
  p.curves.push_back({"run: loss", std::move(x), std::move(y), 0, CurveStyle::Line});
  return p;
}

TEST(ReportPlot, KnownPointMapsToItsPixel) {
  // x axis 0..100, y axis 0..10 on the 480 x 226 plot area at (64, 30).
  const PanelSpec p = one_curve({0, 25, 100}, {0, 2.5, 10});
  const Frame f = panel_frame(p, nullptr);
  EXPECT_DOUBLE_EQ(f.x.hi, 100);
  EXPECT_DOUBLE_EQ(f.y.hi, 10);
  EXPECT_DOUBLE_EQ(f.left, 64);
  EXPECT_DOUBLE_EQ(f.top, 30);
  EXPECT_DOUBLE_EQ(f.width, 480);
  EXPECT_DOUBLE_EQ(f.height, 226);
  EXPECT_DOUBLE_EQ(f.px(25), 184.0);
  EXPECT_DOUBLE_EQ(f.py(2.5), 199.5);  // SVG y grows downwards: 30 + 226 x (1 - 0.25)
  EXPECT_CONTAINS(panel_svg(p), "184.0,199.5");
}

TEST(ReportPlot, LogAxisPutsTheMiddleDecadeInTheMiddle) {
  const PanelSpec p = one_curve({0, 50, 100}, {1, 10, 100}, true);
  const Frame f = panel_frame(p, nullptr);
  EXPECT_TRUE(f.y.log);
  EXPECT_DOUBLE_EQ(f.py(10), 30 + 113.0);
  EXPECT_CONTAINS(panel_svg(p), "304.0,143.0");
}

TEST(ReportPlot, EarlySpikeIsCutAndSaidSo) {
  std::vector<double> x, y = {40, 20, 10, 6};
  for (int i = 0; i < 24; ++i) y.push_back(3.0 - 0.02 * i);
  for (size_t i = 0; i < y.size(); ++i) x.push_back(static_cast<double>(i + 1));
  const PanelSpec p = one_curve(x, y);
  double clipped_at = NAN;
  const Frame f = panel_frame(p, &clipped_at);
  EXPECT_DOUBLE_EQ(clipped_at, f.y.hi);
  EXPECT_LT(f.y.hi, 6);
  EXPECT_CONTAINS(panel_svg(p), "y clipped at " + tick_label(f.y.hi, f.y.ticks[1] - f.y.ticks[0]));
  EXPECT_EQ(panel_svg(one_curve({1, 2, 3}, {3, 2.5, 2})).find("clipped"), std::string::npos);
}

TEST(ReportPlot, LabelsAreEscaped) {
  PanelSpec p = one_curve({0, 1}, {1, 2});
  p.title = "a <b> & \"c\"";
  p.curves[0].label = "<run>&";
  const std::string svg = panel_svg(p);
  EXPECT_CONTAINS(svg, "a &lt;b&gt; &amp; &quot;c&quot;");
  EXPECT_CONTAINS(svg, "&lt;run&gt;&amp;");
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  EXPECT_EQ(svg.find("<run>"), std::string::npos);
}

TEST(ReportPlot, RunsStayDistinguishablePastThePalette) {
  std::set<std::pair<std::string, std::string>> styles;
  for (int run = 0; run < 20; ++run) styles.insert({run_color(run), run_dash(run)});
  EXPECT_EQ(styles.size(), 20u);
  EXPECT_STREQ(run_dash(0), "");
  EXPECT_STRNE(run_dash(7), "");
  EXPECT_CONTAINS(run_swatch_svg(7), "stroke-dasharray");
}

}  // namespace
}  // namespace tfm::report
