#include "tools/support/progress.h"

#include <unistd.h>

#include <cstdio>

namespace tfm {

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

Progress::Progress(const std::string& log_path, bool quiet) : tty_(::isatty(STDERR_FILENO) == 1), quiet_(quiet) {
  if (!log_path.empty()) log_file_.open(log_path, std::ios::app);
}

Progress::~Progress() { finish_status(); }

void Progress::status(const std::string& line) {
  if (!tty_ || quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  if (status_shown_ && now - last_status_ < std::chrono::milliseconds(100)) return;
  last_status_ = now;
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  status_shown_ = true;
}

void Progress::finish_status() {
  if (status_shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    status_shown_ = false;
  }
}

void Progress::log(const std::string& line) {
  if (!quiet_) {
    finish_status();
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }
  if (log_file_.is_open()) {
    log_file_ << line << '\n';
    log_file_.flush();
  }
}

std::string format_value(const char* printf_format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, printf_format, v);
  return buf;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + ("\"" + names[i] + "\"");
  return s;
}

}  // namespace tfm
