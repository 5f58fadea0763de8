#pragma once
// One panel of the report as inline SVG (no xmlns, no external references:
// it lives inside an HTML page): axes with nice ticks, curves of several runs
// in a fixed colour-blind-safe palette (Okabe & Ito 2008, yellow left out for
// contrast on white) and dash patterns past its length.
#include <string>
#include <vector>

#include "tools/report/axis.h"

namespace tfm::report {

enum class CurveStyle { Line, Faint, Markers };  // smoothed or plain; raw, behind; validation points

struct Curve {
  std::string label;  // the tooltip
  std::vector<double> x, y;
  int run = 0;  // colour and dash
  CurveStyle style = CurveStyle::Line;
};

struct PanelSpec {
  std::string id;  // unique within the page (names the clip path)
  std::string title, x_label, y_label;
  std::vector<Curve> curves;
  bool log_y = false;
};

// Where data points land: the plot area in pixels and its axes.
struct Frame {
  double left = 0, top = 0, width = 1, height = 1;
  Axis x, y;
  double px(double x_value) const;
  double py(double y_value) const;  // y grows downwards in SVG
};

inline constexpr int kPanelWidth = 560, kPanelHeight = 300;

// The frame of a panel of kPanelWidth x kPanelHeight: the x axis spans the curves' x values, the y axis
// their robust range (axis.h); `clipped_at` receives the top when a curve rises above it, else NaN.
Frame panel_frame(const PanelSpec& spec, double* clipped_at);
std::string panel_svg(const PanelSpec& spec);

// Run i's stroke colour and dash pattern ("" = solid): colours repeat every palette length with the next dash.
const char* run_color(int run);
const char* run_dash(int run);
// A short line in run i's colour and dash, for legends and tables.
std::string run_swatch_svg(int run);

}  // namespace tfm::report
