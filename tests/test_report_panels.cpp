// tools/report/panels.h: which panels a run gets (absent data, absent panel),
// the x axis in steps, minutes or tokens, and the moving mean.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "tools/report/panels.h"

namespace tfm::report {
namespace {

RunData lm_run(int steps, double seconds_per_step, bool with_tokens, bool with_z_loss = false) {
  std::string text;
  for (int s = 1; s <= steps; ++s) {
    nlohmann::json m = {{"step", s}, {"loss", 5.0 / s}, {"lr", 0.001}, {"grad_norm", 1.0}, {"tokens_per_s", 500.0},
                        {"elapsed_s", s * seconds_per_step}};
    if (with_tokens) m["tokens"] = s * 64;
    if (with_z_loss) m["z_loss"] = 1e-4 * s;
    text += m.dump() + "\n";
    if (s % 10 == 0) text += nlohmann::json{{"step", s}, {"val_loss", 4.0 / s}, {"val_ppl", std::exp(4.0 / s)}}.dump() + "\n";
  }
  RunData r;
  r.dir = r.name = "run";
  r.metrics = parse_metrics(text);
  r.summary = summarize(r.metrics);
  return r;
}

std::vector<std::string> ids(const std::vector<PanelSpec>& panels) {
  std::vector<std::string> out;
  for (const PanelSpec& p : panels) out.push_back(p.id);
  return out;
}

TEST(ReportPanels, PanelsWithoutDataAreLeftOut) {
  EXPECT_EQ(ids(build_panels({lm_run(30, 1, true)}, {})),
            (std::vector<std::string>{"loss", "val-ppl", "lr", "tokens-per-s", "grad-norm"}));  // no BLEU
  RunData train_only = lm_run(5, 1, true);  // no validation line yet
  EXPECT_EQ(ids(build_panels({train_only}, {})),
            (std::vector<std::string>{"loss", "lr", "tokens-per-s", "grad-norm"}));
  // A run trained with train.z_loss logs its z term: a panel of its own, after the gradient norm.
  const std::vector<PanelSpec> with_z = build_panels({lm_run(30, 1, true, true)}, {});
  EXPECT_EQ(ids(with_z), (std::vector<std::string>{"loss", "val-ppl", "lr", "tokens-per-s", "grad-norm", "z-loss"}));
  PanelOptions unsmoothed;
  unsmoothed.smooth = 1;
  const std::vector<PanelSpec> unsmoothed_panels = build_panels({lm_run(30, 1, true, true)}, unsmoothed);
  const PanelSpec& z = unsmoothed_panels.back();
  ASSERT_FALSE(z.curves.empty());
  EXPECT_DOUBLE_EQ(z.curves[0].y.at(6), 7e-4);  // step 7's logged value, not another column's
  RunData nothing;
  nothing.dir = nothing.name = "empty";
  EXPECT_TRUE(build_panels({nothing}, {}).empty());
}

TEST(ReportPanels, TimeAxisIsInMinutesForALongRun) {
  PanelOptions o;
  o.x = "time";
  const std::vector<PanelSpec> panels = build_panels({lm_run(30, 50, true)}, o);  // 1500 s
  EXPECT_EQ(panels[0].x_label, "wall-clock time (min)");
  const Frame f = panel_frame(panels[0], nullptr);
  EXPECT_EQ(f.x.ticks, (std::vector<double>{0, 5, 10, 15, 20, 25}));
}

TEST(ReportPanels, TokensAxisNeedsTokenCounts) {
  PanelOptions o;
  o.x = "tokens";
  EXPECT_EQ(build_panels({lm_run(30, 1, true)}, o)[0].curves[0].x.back(), 30 * 64);
  EXPECT_CONTAINS(testing::error_message([&] { build_panels({lm_run(30, 1, false)}, o); }), "records no token counts");
  o.x = "epochs";
  EXPECT_CONTAINS(testing::error_message([&] { build_panels({lm_run(3, 1, true)}, o); }), "step, time or tokens");
}

TEST(ReportPanels, LossGetsRawFaintAndItsMovingMean) {
  PanelOptions o;
  o.smooth = 4;
  const PanelSpec loss = build_panels({lm_run(30, 1, true)}, o)[0];
  ASSERT_EQ(loss.curves.size(), 3u);
  EXPECT_EQ(loss.curves[0].style, CurveStyle::Faint);
  EXPECT_EQ(loss.curves[1].style, CurveStyle::Line);
  EXPECT_EQ(loss.curves[2].style, CurveStyle::Markers);
  EXPECT_DOUBLE_EQ(loss.curves[1].y[5], (5.0 / 3 + 5.0 / 4 + 5.0 / 5 + 5.0 / 6) / 4);
  o.smooth = 1;  // no smoothing: the raw curve alone
  EXPECT_EQ(build_panels({lm_run(30, 1, true)}, o)[0].curves.size(), 2u);
}

TEST(ReportPanels, MovingMeanOverTheLastValues) {
  const std::vector<double> m = moving_mean({1, 2, NAN, 4, 5}, 2);
  EXPECT_DOUBLE_EQ(m[0], 1);
  EXPECT_DOUBLE_EQ(m[1], 1.5);
  EXPECT_DOUBLE_EQ(m[2], 2);  // the NaN is skipped
  EXPECT_DOUBLE_EQ(m[3], 4);
  EXPECT_DOUBLE_EQ(m[4], 4.5);
  RunData r = lm_run(100, 1, true);
  EXPECT_EQ(smoothing_window({r}, 0), 5);
  EXPECT_EQ(smoothing_window({r}, 7), 7);
}

}  // namespace
}  // namespace tfm::report
