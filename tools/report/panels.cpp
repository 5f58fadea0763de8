#include "tools/report/panels.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "core/error.h"

namespace tfm::report {
namespace {

// How a metrics line maps to the x axis.
struct XMap {
  std::string label;
  std::function<double(int64_t step, double elapsed_s, double tokens)> of;
};

XMap x_map(const std::vector<RunData>& runs, const std::string& x) {
  if (x == "step") return {"step", [](int64_t step, double, double) { return static_cast<double>(step); }};
  if (x == "time") {
    double longest = 0;
    for (const RunData& r : runs)
      if (std::isfinite(r.summary.wall_s)) longest = std::max(longest, r.summary.wall_s);
    const TimeUnit unit = time_unit(longest);
    return {std::string("wall-clock time (") + unit.name + ")",
            [s = unit.seconds](int64_t, double elapsed, double) { return elapsed / s; }};
  }
  TFM_CHECK(x == "tokens", "report: --x must be step, time or tokens, found \"", x, "\"");
  for (const RunData& r : runs)
    TFM_CHECK(r.metrics.train.empty() || std::isfinite(r.metrics.train.back().tokens), "report: --x tokens: ",
              r.dir, "/metrics.jsonl records no token counts (written by an older tfm); use --x step or --x time");
  return {"tokens", [](int64_t, double, double tokens) { return tokens; }};
}

Curve train_curve(const RunData& r, const XMap& x, int run, const std::string& what, CurveStyle style,
                  double TrainPoint::*field) {
  Curve c{r.name + ": " + what, {}, {}, run, style};
  for (const TrainPoint& p : r.metrics.train) {
    c.x.push_back(x.of(p.step, p.elapsed_s, p.tokens));
    c.y.push_back(p.*field);
  }
  return c;
}

Curve eval_curve(const RunData& r, const XMap& x, int run, const std::string& what, double EvalPoint::*field) {
  Curve c{r.name + ": " + what, {}, {}, run, CurveStyle::Markers};
  for (const EvalPoint& p : r.metrics.eval) {
    c.x.push_back(x.of(p.step, p.elapsed_s, p.tokens));
    c.y.push_back(p.*field);
  }
  return c;
}

// The raw curve faint and its moving mean on top.
void add_smoothed(PanelSpec& panel, Curve raw, int window) {
  Curve mean = raw;
  mean.style = CurveStyle::Line;
  if (window > 1) {
    mean.y = moving_mean(raw.y, window);
    mean.label += ", mean of " + std::to_string(window);
    raw.style = CurveStyle::Faint;
    panel.curves.push_back(std::move(raw));
  }
  panel.curves.push_back(std::move(mean));
}

bool has_data(const PanelSpec& p) {
  for (const Curve& c : p.curves)
    if (std::any_of(c.y.begin(), c.y.end(), [](double v) { return std::isfinite(v); })) return true;
  return false;
}

}  // namespace

std::vector<double> moving_mean(const std::vector<double>& values, int window) {
  std::vector<double> out(values.size(), kMissing);
  double sum = 0;
  int count = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) sum += values[i], ++count;
    if (i >= static_cast<size_t>(window) && std::isfinite(values[i - window])) sum -= values[i - window], --count;
    if (count > 0) out[i] = sum / count;
  }
  return out;
}

int smoothing_window(const std::vector<RunData>& runs, int requested) {
  TFM_CHECK(requested >= 0, "report: --smooth must be >= 0 (0: auto, 1: none), found ", requested);
  if (requested > 0) return requested;
  size_t longest = 0;
  for (const RunData& r : runs) longest = std::max(longest, r.metrics.train.size());
  return static_cast<int>(std::clamp<size_t>(longest / 20, 1, 200));
}

std::vector<PanelSpec> build_panels(const std::vector<RunData>& runs, const PanelOptions& o) {
  const XMap x = x_map(runs, o.x);
  const int window = smoothing_window(runs, o.smooth);
  PanelSpec loss{"loss", "Loss", x.label, "loss (nats/token)", {}, o.log_y};
  PanelSpec ppl{"val-ppl", "Validation perplexity", x.label, "perplexity", {}, o.log_y};
  PanelSpec bleu{"val-bleu", "Validation BLEU (greedy)", x.label, "BLEU", {}, false};
  PanelSpec lr{"lr", "Learning rate", x.label, "learning rate", {}, false};
  PanelSpec speed{"tokens-per-s", "Throughput", x.label, "tokens/s", {}, false};
  PanelSpec norm{"grad-norm", "Gradient norm (before clipping)", x.label, "L2 norm", {}, o.log_y};
  PanelSpec z{"z-loss", "z-loss term (train.z_loss)", x.label, "z * mean (log Z)^2", {}, o.log_y};
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunData& r = runs[i];
    const int run = static_cast<int>(i);
    add_smoothed(loss, train_curve(r, x, run, "train loss", CurveStyle::Line, &TrainPoint::loss), window);
    loss.curves.push_back(eval_curve(r, x, run, "validation loss", &EvalPoint::val_loss));
    ppl.curves.push_back(eval_curve(r, x, run, "validation perplexity", &EvalPoint::val_ppl));
    bleu.curves.push_back(eval_curve(r, x, run, "validation BLEU", &EvalPoint::val_bleu));
    lr.curves.push_back(train_curve(r, x, run, "learning rate", CurveStyle::Line, &TrainPoint::lr));
    speed.curves.push_back(train_curve(r, x, run, "tokens/s", CurveStyle::Line, &TrainPoint::tokens_per_s));
    add_smoothed(norm, train_curve(r, x, run, "gradient norm", CurveStyle::Line, &TrainPoint::grad_norm), window);
    add_smoothed(z, train_curve(r, x, run, "z-loss", CurveStyle::Line, &TrainPoint::z_loss), window);
  }
  std::vector<PanelSpec> out;
  for (PanelSpec* p : {&loss, &ppl, &bleu, &lr, &speed, &norm, &z})
    if (has_data(*p)) out.push_back(std::move(*p));
  return out;
}

}  // namespace tfm::report
