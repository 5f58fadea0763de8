#include "tools/report/metrics.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/config.h"
#include "core/io.h"

namespace tfm::report {
namespace {

double number_or_missing(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : kMissing;
}

// Adds the record of one complete line; false when the line is not one.
bool add_record(const std::string& line, RunMetrics& m) {
  nlohmann::json j;
  try {
    check_json_bounds(line, "metrics.jsonl");
    j = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    return false;
  }
  if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) return false;
  const int64_t step = j["step"].get<int64_t>();
  if (j.contains("loss")) {
    m.train.push_back({step, number_or_missing(j, "loss"), number_or_missing(j, "lr"), number_or_missing(j, "grad_norm"),
                       number_or_missing(j, "tokens_per_s"), number_or_missing(j, "elapsed_s"),
                       number_or_missing(j, "tokens"), number_or_missing(j, "z_loss")});
    return true;
  }
  if (j.contains("val_loss")) {
    m.eval.push_back({step, number_or_missing(j, "val_loss"), number_or_missing(j, "val_ppl"),
                      number_or_missing(j, "val_bleu"), number_or_missing(j, "elapsed_s"),
                      number_or_missing(j, "tokens")});
    return true;
  }
  return false;
}

}  // namespace

RunMetrics parse_metrics(const std::string& text) {
  RunMetrics m;
  m.torn_tail = !text.empty() && text.back() != '\n';
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof() && m.torn_tail) break;  // the unterminated last line
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!add_record(line, m)) ++m.skipped_lines;
  }
  return m;
}

RunMetrics read_metrics(const std::string& path) { return parse_metrics(read_file(path)); }

}  // namespace tfm::report
