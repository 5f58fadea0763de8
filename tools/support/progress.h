#pragma once
// Progress output for long-running commands: on a terminal a live status line
// (step, loss, lr, tokens/s, ETA), otherwise plain log lines; every log line
// also goes to an optional log file.
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace tfm {

std::string format_duration(double seconds);  // "1h02m", "3m12s", "45s"
std::string format_value(const char* printf_format, double v);  // format_value("%.4f", loss)
std::string quoted_list(const std::vector<std::string>& names);  // "a", "b" or "c"

class Progress {
 public:
  explicit Progress(const std::string& log_path = "", bool quiet = false);
  ~Progress();
  bool interactive() const { return tty_; }
  // Replaces the live line (terminal only; throttled).
  void status(const std::string& line);
  // A permanent line: stderr and the log file.
  void log(const std::string& line);
  void finish_status();

 private:
  bool tty_;
  bool quiet_;
  bool status_shown_ = false;
  std::ofstream log_file_;
  std::chrono::steady_clock::time_point last_status_;
};

}  // namespace tfm
