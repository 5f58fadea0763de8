#include "core/config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace tfm {

int edit_distance(const std::string& a, const std::string& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_d = 1 << 30;
  for (const auto& c : candidates) {
    int d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  if (best_d <= std::max<int>(2, static_cast<int>(word.size()) / 2)) return best;
  // Otherwise a key sharing the first word ("lr_rate" → "lr", "warmup" → "warmup_steps"), nearest first.
  const std::string head = word.substr(0, word.find('_'));
  best.clear();
  best_d = 1 << 30;
  for (const auto& c : candidates) {
    int d = edit_distance(word, c);
    if (head.size() >= 2 && c.substr(0, c.find('_')) == head && d < best_d) best_d = d, best = c;
  }
  return best;
}

ConfigReader::ConfigReader(const nlohmann::json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
  TFM_CHECK(obj.is_object() || obj.is_null(), "config: ", path_.empty() ? "top level" : path_,
            " must be a JSON object, found ", obj.dump());
}

const nlohmann::json* ConfigReader::find(const std::string& key) {
  known_.insert(key);
  if (!obj_.is_object()) return nullptr;
  auto it = obj_.find(key);
  return it == obj_.end() ? nullptr : &*it;
}

bool ConfigReader::has(const std::string& key) const { return obj_.is_object() && obj_.contains(key); }

void ConfigReader::accept(const std::string& key) { known_.insert(key); }

int64_t ConfigReader::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  TFM_CHECK(v->is_number() && !v->is_boolean(), "config: ", key_path(key), ": expected an integer, found ", v->dump());
  // Every JSON number is checked before it becomes an int64_t: 3e86, 1e19 or
  // 18446744073709551615 must be "out of range", not a converted (or, for a
  // double, undefined) value.
  constexpr double two_63 = 9223372036854775808.0;
  bool fits = true;
  int64_t x = 0;
  if (v->is_number_unsigned()) {
    const uint64_t u = v->get<uint64_t>();
    fits = u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (fits) x = static_cast<int64_t>(u);
  } else if (v->is_number_integer()) {
    x = v->get<int64_t>();
  } else {
    const double d = v->get<double>();
    TFM_CHECK(std::isfinite(d) && d == std::trunc(d), "config: ", key_path(key), ": expected an integer, found ",
              v->dump());
    fits = d >= -two_63 && d < two_63;
    if (fits) x = static_cast<int64_t>(d);
  }
  TFM_CHECK(fits && x >= min && x <= max, "config: ", key_path(key), ": ", v->dump(), " is out of range [", min, ", ",
            max, "]");
  return x;
}

int64_t ConfigReader::require_int(const std::string& key, int64_t min, int64_t max) {
  TFM_CHECK(has(key), "config: missing required key ", key_path(key));
  return get_int(key, 0, min, max);
}

double ConfigReader::get_number(const std::string& key, double fallback, double min, double max) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  TFM_CHECK(v->is_number() && !v->is_boolean(), "config: ", key_path(key), ": expected a number, found ", v->dump());
  const double x = v->get<double>();
  TFM_CHECK(x >= min && x <= max, "config: ", key_path(key), ": ", x, " is out of range [", min, ", ", max, "]");
  return x;
}

bool ConfigReader::get_bool(const std::string& key, bool fallback) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  TFM_CHECK(v->is_boolean(), "config: ", key_path(key), ": expected true or false, found ", v->dump());
  return v->get<bool>();
}

std::string ConfigReader::get_string(const std::string& key, const std::string& fallback,
                                     const std::vector<std::string>& allowed) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  TFM_CHECK(v->is_string(), "config: ", key_path(key), ": expected a string, found ", v->dump());
  std::string s = v->get<std::string>();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
    std::string list;
    for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    std::string near = nearest(s, allowed);
    TFM_FAIL("config: ", key_path(key), ": \"", s, "\" is not one of: ", list,
             near.empty() ? "" : " (did you mean \"" + near + "\"?)");
  }
  return s;
}

std::vector<std::string> ConfigReader::get_strings(const std::string& key, const std::vector<std::string>& fallback) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  if (v->is_string()) return {v->get<std::string>()};
  TFM_CHECK(v->is_array(), "config: ", key_path(key), ": expected a string or a list of strings, found ", v->dump());
  std::vector<std::string> out;
  for (auto& e : *v) {
    TFM_CHECK(e.is_string(), "config: ", key_path(key), ": expected strings, found ", e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<double> ConfigReader::get_numbers(const std::string& key, const std::vector<double>& fallback, double min,
                                              double max) {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return fallback;
  TFM_CHECK(v->is_array(), "config: ", key_path(key), ": expected a list of numbers, found ", v->dump());
  std::vector<double> out;
  for (auto& e : *v) {
    TFM_CHECK(e.is_number() && !e.is_boolean(), "config: ", key_path(key), ": expected numbers, found ", e.dump());
    double x = e.get<double>();
    TFM_CHECK(x >= min && x <= max, "config: ", key_path(key), ": ", x, " is out of range [", min, ", ", max, "]");
    out.push_back(x);
  }
  return out;
}

nlohmann::json ConfigReader::get_json(const std::string& key) {
  const nlohmann::json* v = find(key);
  return v == nullptr ? nlohmann::json() : *v;
}

void ConfigReader::finish() const {
  if (!obj_.is_object()) return;
  std::vector<std::string> known(known_.begin(), known_.end());
  for (auto& [key, value] : obj_.items()) {
    if (known_.contains(key)) continue;
    std::string near = nearest(key, known);
    TFM_FAIL("config: unknown key ", key_path(key),
             near.empty() ? std::string() : " (did you mean " + key_path(near) + "?)");
  }
}

namespace {

int line_of(std::string_view text, size_t byte) {
  int line = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) line += text[i] == '\n';
  return line;
}

}  // namespace

void check_json_bounds(std::string_view text, const std::string& source, size_t max_bytes, int max_depth) {
  TFM_CHECK(text.size() <= max_bytes, source, ": JSON text of ", text.size(), " bytes exceeds the limit of ", max_bytes,
            " bytes");
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      TFM_CHECK(++depth <= max_depth, source, ": JSON nests deeper than ", max_depth, " levels at byte ", i, " (line ",
                line_of(text, i), ")");
    } else if (c == ']' || c == '}') {
      depth -= depth > 0;  // unbalanced brackets are the parser's to report
    }
  }
}

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  check_json_bounds(text, source);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based; turn it into line and column.
    size_t byte = e.byte > 0 ? e.byte - 1 : 0;
    int line = 1, col = 1;
    for (size_t i = 0; i < byte && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, col = 1;
      else ++col;
    }
    std::string msg = e.what();
    auto pos = msg.find("syntax error");
    TFM_FAIL(source, ":", line, ":", col, ": JSON ", pos == std::string::npos ? msg : msg.substr(pos));
  } catch (const nlohmann::json::exception& e) {  // e.g. a number out of range
    TFM_FAIL(source, ": JSON ", e.what());
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  TFM_CHECK(in.good(), "cannot open ", path);
  const auto size = static_cast<std::streamoff>(in.tellg());
  TFM_CHECK(size >= 0 && static_cast<uint64_t>(size) <= kMaxJsonBytes, path, ": ", size,
            " bytes is too large for a JSON file (limit ", kMaxJsonBytes, " bytes)");
  in.seekg(0);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_json(ss.str(), path);
}

}  // namespace tfm
