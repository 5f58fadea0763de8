#include "tools/report/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tools/eval/heatmap.h"
#include "tools/support/progress.h"

namespace tfm::report {
namespace {

constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"};
constexpr int kColors = sizeof kPalette / sizeof kPalette[0];
constexpr const char* kDashes[] = {"", "7 3", "2 2", "9 3 2 3"};
constexpr int kDashCount = sizeof kDashes / sizeof kDashes[0];
constexpr double kLeft = 64, kRight = 16, kTop = 30, kBottom = 44;
constexpr size_t kMaxPoints = 2000;  // per curve; longer ones are thinned evenly

std::string num(double v) { return format_value("%.1f", v); }

double axis_position(const Axis& a, double v) {
  if (!a.log) return (v - a.lo) / (a.hi - a.lo);
  return (std::log10(v) - std::log10(a.lo)) / (std::log10(a.hi) - std::log10(a.lo));
}

std::string axis_label(const Axis& a, double v) {
  if (a.log) return log_tick_label(v);
  return tick_label(v, a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : 1.0);
}

void draw_axes(std::ostringstream& o, const Frame& f, const PanelSpec& spec) {
  o << "<rect x=\"" << num(f.left) << "\" y=\"" << num(f.top) << "\" width=\"" << num(f.width) << "\" height=\""
    << num(f.height) << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (double t : f.y.ticks) {
    const std::string y = num(f.py(t));
    o << "<line x1=\"" << num(f.left) << "\" x2=\"" << num(f.left + f.width) << "\" y1=\"" << y << "\" y2=\"" << y
      << "\" stroke=\"#e4e4e4\"/><text x=\"" << num(f.left - 6) << "\" y=\"" << y
      << "\" dy=\"4\" text-anchor=\"end\">" << xml_escape(axis_label(f.y, t)) << "</text>\n";
  }
  for (double t : f.x.ticks) {
    const std::string x = num(f.px(t));
    o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << num(f.top) << "\" y2=\"" << num(f.top + f.height)
      << "\" stroke=\"#e4e4e4\"/><text x=\"" << x << "\" y=\"" << num(f.top + f.height + 16)
      << "\" text-anchor=\"middle\">" << xml_escape(axis_label(f.x, t)) << "</text>\n";
  }
  o << "<text x=\"" << num(f.left + f.width / 2) << "\" y=\"" << kPanelHeight - 6 << "\" text-anchor=\"middle\">"
    << xml_escape(spec.x_label) << "</text>\n";
  o << "<text transform=\"translate(14 " << num(f.top + f.height / 2) << ") rotate(-90)\" text-anchor=\"middle\">"
    << xml_escape(spec.y_label) << "</text>\n";
}

// The curve's finite points as "x,y x,y ...", at most kMaxPoints of them.
std::string points(const Frame& f, const Curve& c, bool log_y) {
  std::vector<size_t> keep;
  for (size_t i = 0; i < c.x.size() && i < c.y.size(); ++i)
    if (std::isfinite(c.x[i]) && std::isfinite(c.y[i]) && (!log_y || c.y[i] > 0)) keep.push_back(i);
  const size_t stride = std::max<size_t>(1, (keep.size() + kMaxPoints - 1) / kMaxPoints);
  std::string out;
  for (size_t k = 0; k < keep.size(); ++k) {
    if (k % stride != 0 && k + 1 != keep.size()) continue;
    if (!out.empty()) out += ' ';
    out += num(f.px(c.x[keep[k]]));
    out += ',';
    out += num(f.py(c.y[keep[k]]));
  }
  return out;
}

void draw_curve(std::ostringstream& o, const Frame& f, const Curve& c, bool log_y) {
  const std::string pts = points(f, c, log_y);
  if (pts.empty()) return;
  const char* color = run_color(c.run);
  const std::string dash = run_dash(c.run);
  const std::string dash_attr = dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"";
  o << "<g><title>" << xml_escape(c.label) << "</title>";
  if (c.style == CurveStyle::Faint) {
    o << "<polyline points=\"" << pts << "\" fill=\"none\" stroke=\"" << color
      << "\" stroke-opacity=\"0.25\" stroke-width=\"1\"/>";
  } else {
    o << "<polyline points=\"" << pts << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.8\""
      << dash_attr << "/>";
  }
  if (c.style == CurveStyle::Markers) {
    std::istringstream in(pts);
    std::string xy;
    while (in >> xy) {
      const size_t comma = xy.find(',');
      o << "<circle cx=\"" << xy.substr(0, comma) << "\" cy=\"" << xy.substr(comma + 1) << "\" r=\"2.8\" fill=\""
        << color << "\"/>";
    }
  }
  o << "</g>\n";
}

}  // namespace

double Frame::px(double x_value) const { return left + axis_position(x, x_value) * width; }
double Frame::py(double y_value) const { return top + height - axis_position(y, y_value) * height; }

Frame panel_frame(const PanelSpec& spec, double* clipped_at) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_max = -INFINITY;
  std::vector<std::vector<double>> ys;
  for (const Curve& c : spec.curves) {
    for (double x : c.x)
      if (std::isfinite(x)) x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
    for (double y : c.y)
      if (std::isfinite(y)) y_max = std::max(y_max, y);
    ys.push_back(c.y);
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1;
  Frame f;
  f.left = kLeft;
  f.top = kTop;
  f.width = kPanelWidth - kLeft - kRight;
  f.height = kPanelHeight - kTop - kBottom;
  f.x = linear_axis(std::min(x_lo, 0.0), x_hi);
  const YRange r = robust_range(ys, spec.log_y);
  f.y = spec.log_y ? log_axis(r.lo, r.hi) : linear_axis(r.lo, r.hi);
  if (clipped_at) *clipped_at = y_max > f.y.hi ? f.y.hi : NAN;
  return f;
}

std::string panel_svg(const PanelSpec& spec) {
  double clipped_at = NAN;
  const Frame f = panel_frame(spec, &clipped_at);
  std::ostringstream o;
  o << "<svg class=\"panel\" viewBox=\"0 0 " << kPanelWidth << " " << kPanelHeight << "\" width=\"" << kPanelWidth
    << "\" height=\"" << kPanelHeight << "\" role=\"img\" aria-label=\"" << xml_escape(spec.title)
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << "<text x=\"" << num(f.left) << "\" y=\"18\" font-size=\"13\" font-weight=\"bold\">" << xml_escape(spec.title)
    << "</text>\n";
  if (std::isfinite(clipped_at))
    o << "<text class=\"clip-note\" x=\"" << num(f.left + f.width) << "\" y=\"18\" text-anchor=\"end\" fill=\"#a00\">"
      << xml_escape("y clipped at " + axis_label(f.y, clipped_at)) << "</text>\n";
  draw_axes(o, f, spec);
  const std::string clip_id = "clip-" + spec.id;
  o << "<clipPath id=\"" << xml_escape(clip_id) << "\"><rect x=\"" << num(f.left) << "\" y=\"" << num(f.top)
    << "\" width=\"" << num(f.width) << "\" height=\"" << num(f.height) << "\"/></clipPath>\n";
  o << "<g clip-path=\"url(#" << xml_escape(clip_id) << ")\">\n";
  for (CurveStyle style : {CurveStyle::Faint, CurveStyle::Line, CurveStyle::Markers})
    for (const Curve& c : spec.curves)
      if (c.style == style) draw_curve(o, f, c, spec.log_y);
  o << "</g>\n</svg>\n";
  return o.str();
}

const char* run_color(int run) { return kPalette[run % kColors]; }
const char* run_dash(int run) { return kDashes[(run / kColors) % kDashCount]; }

std::string run_swatch_svg(int run) {
  const std::string dash = run_dash(run);
  return std::string("<svg class=\"swatch\" width=\"28\" height=\"10\"><line x1=\"1\" y1=\"5\" x2=\"27\" y2=\"5\" ") +
         "stroke=\"" + run_color(run) + "\" stroke-width=\"2.5\"" +
         (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + "/></svg>";
}

}  // namespace tfm::report
