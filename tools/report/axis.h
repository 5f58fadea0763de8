#pragma once
// Plot axes: "nice" ranges and ticks (1, 2 or 5 x 10^k apart), decade ticks
// for log axes, a robust y range that cuts off an early spike, and tick
// labels with readable units (k, M; s, min, h).
#include <string>
#include <vector>

namespace tfm::report {

struct Axis {
  double lo = 0.0, hi = 1.0;  // the drawn range (for a log axis, in data units: lo > 0)
  std::vector<double> ticks;  // within [lo, hi]
  bool log = false;
};

// The smallest of 1, 2, 5 x 10^k that is >= raw (raw > 0).
double nice_step(double raw);
// [lo, hi] widened to multiples of a nice step, ticks at each multiple: nice_step(range / target),
// or the next smaller nice step when that covers the data in fewer units and at most target + 3
// intervals. lo == hi gets a range around the value.
Axis linear_axis(double lo, double hi, int target = 5);
// Decades 10^floor(log10 lo) .. 10^ceil(log10 hi), a tick at each; with fewer than two
// decades, also at 2 and 5 x 10^k.
Axis log_axis(double lo, double hi);

// The y range of a panel: all the values, except that when the largest lie far above
// the later part of the data (an early-loss spike) the top is cut at the 98th
// percentile of the later values (each curve's after its first fifth) plus half
// their 2nd..98th percentile spread. `clipped` says whether anything lies above the top.
struct YRange {
  double lo = 0.0, hi = 1.0;
  bool clipped = false;
};
// curves: each in x order; NaNs and (when log) values <= 0 are ignored.
YRange robust_range(const std::vector<std::vector<double>>& curves, bool log);

// Time axis unit, chosen from the largest time shown: s below 2 min, min below 2 h, else h.
struct TimeUnit {
  const char* name;
  double seconds;
};
TimeUnit time_unit(double max_seconds);

// A tick label: k, M or G by the larger of the value and the step ("500", "20k", "1.5M"), as many
// decimals as `step` needs in that unit.
std::string tick_label(double value, double step);
// A log-axis tick label: "0.01", "1", "100", "10k", "1e-05".
std::string log_tick_label(double value);
// Counts in tables: "1234", "12.3k", "4.56M".
std::string format_count(double value);

}  // namespace tfm::report
