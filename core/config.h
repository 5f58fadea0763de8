#pragma once
// Reading JSON config objects into typed structs, validating every key once:
// wrong types and out-of-range values name the key path, the value and the
// allowed range; keys nobody read are errors that suggest the nearest valid
// key. The rest of the code sees only the typed structs.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tfm {

class ConfigReader {
 public:
  // path: where obj sits in the file, e.g. "model" (used in messages).
  ConfigReader(const nlohmann::json& obj, std::string path);
  // The reader keeps a reference to obj: a temporary would dangle.
  ConfigReader(nlohmann::json&& obj, std::string path) = delete;

  int64_t get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max);
  int64_t require_int(const std::string& key, int64_t min, int64_t max);
  double get_number(const std::string& key, double fallback, double min, double max);
  bool get_bool(const std::string& key, bool fallback);
  std::string get_string(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& allowed = {});
  std::vector<std::string> get_strings(const std::string& key, const std::vector<std::string>& fallback);
  std::vector<double> get_numbers(const std::string& key, const std::vector<double>& fallback, double min,
                                  double max);
  bool has(const std::string& key) const;
  // Whether key was read (or accepted) already.
  bool was_read(const std::string& key) const { return known_.contains(key); }
  // Raw value (marks the key read); null when absent.
  nlohmann::json get_json(const std::string& key);
  // Marks a key as known without reading it.
  void accept(const std::string& key);
  // Throws on keys that were never read.
  void finish() const;

  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const nlohmann::json* find(const std::string& key);
  const nlohmann::json& obj_;
  std::string path_;
  std::set<std::string> known_;
};

// Levenshtein distance, for "did you mean" suggestions.
int edit_distance(const std::string& a, const std::string& b);
// The candidate nearest to `word`, or "" when none is reasonably close.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

// Bounds on JSON that comes from files (configs, safetensors headers and their
// metadata, run state): checked before a parser sees the text, because
// nlohmann's dump, copy and comparison recurse once per nesting level, so a
// crafted file nested a million levels deep would overflow the stack, and a
// huge text would be held in memory several times over.
inline constexpr size_t kMaxJsonBytes = size_t{256} << 20;
inline constexpr int kMaxJsonDepth = 64;
// Throws unless `text` is at most max_bytes long and nests arrays and objects at
// most max_depth deep; the error names the source, the byte offset and the line.
void check_json_bounds(std::string_view text, const std::string& source, size_t max_bytes = kMaxJsonBytes,
                       int max_depth = kMaxJsonDepth);

// Parses JSON text within the bounds above; syntax errors become tfm::Error
// with "<source>:line:column".
nlohmann::json parse_json(const std::string& text, const std::string& source);
nlohmann::json read_json_file(const std::string& path);

}  // namespace tfm
