#include "tools/report/axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "tools/support/progress.h"

namespace tfm::report {
namespace {

constexpr double kEps = 1e-9;

// k x step without the binary residue (3 x 0.1 is 0.30000000000000004).
double tidy(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  const double t = std::strtod(buf, nullptr);
  return t == 0.0 ? 0.0 : t;  // no "-0"
}

double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (pos - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

// The value scaled to k, M or G and its suffix, from the magnitude `scale_by`.
std::pair<double, const char*> si_scale(double scale_by) {
  if (scale_by >= 1e9) return {1e9, "G"};
  if (scale_by >= 1e6) return {1e6, "M"};
  if (scale_by >= 1e3) return {1e3, "k"};
  return {1.0, ""};
}

// 5 x 10^k -> 2 x 10^k -> 1 x 10^k -> 5 x 10^(k-1)
double next_smaller_nice(double step) {
  const double base = std::pow(10.0, std::floor(std::log10(step) + kEps));
  const double m = std::round(step / base);
  return tidy(m >= 5 ? 2 * base : m >= 2 ? base : 0.5 * base);
}

}  // namespace

double nice_step(double raw) {
  TFM_CHECK(raw > 0 && std::isfinite(raw), "report: axis step must be positive, found ", raw);
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / base;
  const double m = f <= 1 + kEps ? 1 : f <= 2 + kEps ? 2 : f <= 5 + kEps ? 5 : 10;
  return tidy(m * base);
}

Axis linear_axis(double lo, double hi, int target) {
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= std::max(std::fabs(hi), 1.0) * kEps) {
    const double half = std::max(std::fabs(lo) * 0.1, 0.5);
    lo -= half;
    hi += half;
  }
  // The nice step at or above the target's, or the next smaller one when that wastes less of the
  // axis in at most target + 3 intervals (0..100.7 gets 0..120 by 20, not 0..150 by 50).
  double step = nice_step((hi - lo) / std::max(target, 1));
  const double smaller = next_smaller_nice(step);
  const auto span = [&](double s) { return std::ceil(hi / s - kEps) - std::floor(lo / s + kEps); };
  if (span(smaller) <= target + 3 && span(smaller) * smaller < span(step) * step - kEps * step) step = smaller;
  const double first = std::floor(lo / step + kEps), last = std::ceil(hi / step - kEps);
  Axis a;
  a.lo = tidy(first * step);
  a.hi = tidy(last * step);
  for (double k = first; k <= last + kEps; ++k) a.ticks.push_back(tidy(k * step));
  return a;
}

Axis log_axis(double lo, double hi) {
  TFM_CHECK(lo > 0 && hi > 0, "report: a log axis needs positive values, found [", lo, ", ", hi, "]");
  if (lo > hi) std::swap(lo, hi);
  const int d0 = static_cast<int>(std::floor(std::log10(lo) + kEps));
  int d1 = static_cast<int>(std::ceil(std::log10(hi) - kEps));
  if (d1 == d0) ++d1;
  Axis a;
  a.log = true;
  if (d1 - d0 >= 2) {
    a.lo = tidy(std::pow(10.0, d0));
    a.hi = tidy(std::pow(10.0, d1));
    for (int d = d0; d <= d1; ++d) a.ticks.push_back(tidy(std::pow(10.0, d)));
    return a;
  }
  std::vector<double> marks;  // 1, 2, 5 x 10^k
  for (int d = d0; d <= d1; ++d)
    for (double m : {1.0, 2.0, 5.0}) marks.push_back(tidy(m * std::pow(10.0, d)));
  a.lo = marks.front();
  for (double m : marks)
    if (m <= lo * (1 + kEps)) a.lo = m;
  a.hi = marks.back();
  for (auto it = marks.rbegin(); it != marks.rend(); ++it)
    if (*it >= hi * (1 - kEps)) a.hi = *it;
  for (double m : marks)
    if (m >= a.lo && m <= a.hi) a.ticks.push_back(m);
  return a;
}

YRange robust_range(const std::vector<std::vector<double>>& curves, bool log) {
  std::vector<double> t, later;
  for (const auto& curve : curves) {
    std::vector<double> c;
    for (double v : curve)
      if (std::isfinite(v) && (!log || v > 0)) c.push_back(log ? std::log10(v) : v);
    t.insert(t.end(), c.begin(), c.end());
    later.insert(later.end(), c.begin() + static_cast<std::ptrdiff_t>(c.size() / 5), c.end());
  }
  YRange r;
  if (t.empty()) return r;
  std::sort(later.begin(), later.end());
  const double p2 = percentile(later, 0.02), p98 = percentile(later, 0.98);
  const double margin = std::max({0.5 * (p98 - p2), 0.05 * std::fabs(p98), 1e-12});
  const double cut = p98 + margin;
  const double top = *std::max_element(t.begin(), t.end());
  r.lo = *std::min_element(t.begin(), t.end());
  r.hi = top > cut ? cut : top;
  r.clipped = top > cut;
  if (log) r.lo = std::pow(10.0, r.lo), r.hi = std::pow(10.0, r.hi);
  return r;
}

TimeUnit time_unit(double max_seconds) {
  if (max_seconds < 120) return {"s", 1.0};
  if (max_seconds < 7200) return {"min", 60.0};
  return {"h", 3600.0};
}

std::string tick_label(double value, double step) {
  if (tidy(value) == 0.0) return "0";
  const auto [scale, suffix] = si_scale(std::max(std::fabs(value), std::fabs(step)));
  const double scaled_step = std::fabs(step) / scale;
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(scaled_step) + kEps)));
  std::string digits = format_value(("%." + std::to_string(decimals) + "f").c_str(), tidy(value / scale));
  if (*suffix && digits.find('.') != std::string::npos) {  // "1.0M" -> "1M"
    while (digits.back() == '0') digits.pop_back();
    if (digits.back() == '.') digits.pop_back();
  }
  return digits + suffix;
}

std::string log_tick_label(double value) {
  if (value >= 1e4) {
    const auto [scale, suffix] = si_scale(value);
    return format_value("%g", tidy(value / scale)) + suffix;
  }
  return format_value("%g", tidy(value));
}

std::string format_count(double value) {
  if (!std::isfinite(value)) return "-";
  if (std::fabs(value) < 1e4) return format_value("%.0f", value);
  const auto [scale, suffix] = si_scale(std::fabs(value));
  return format_value("%.3g", value / scale) + suffix;
}

}  // namespace tfm::report
