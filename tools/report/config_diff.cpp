#include "tools/report/config_diff.h"

#include <set>

namespace tfm::report {
namespace {

void flatten_into(const nlohmann::json& j, const std::string& path, std::map<std::string, std::string>& out) {
  const auto child = [&](const std::string& key) { return path.empty() ? key : path + "." + key; };
  if (j.is_object() && !j.empty()) {
    for (const auto& [key, value] : j.items()) flatten_into(value, child(key), out);
  } else if (j.is_array() && !j.empty()) {
    for (size_t i = 0; i < j.size(); ++i) flatten_into(j[i], child(std::to_string(i)), out);
  } else {
    out[path] = j.dump();
  }
}

}  // namespace

std::map<std::string, std::string> flatten_config(const nlohmann::json& config) {
  std::map<std::string, std::string> out;
  flatten_into(config, "", out);
  out.erase("");  // an empty or scalar config has no keys
  return out;
}

std::vector<std::string> differing_keys(const std::vector<std::map<std::string, std::string>>& configs) {
  if (configs.size() < 2) return {};
  std::set<std::string> all;
  for (const auto& c : configs)
    for (const auto& kv : c) all.insert(kv.first);
  std::vector<std::string> out;
  for (const std::string& key : all) {
    const auto first = configs.front().find(key);
    for (const auto& c : configs) {
      const auto it = c.find(key);
      const bool same = (it == c.end()) == (first == configs.front().end()) &&
                        (it == c.end() || it->second == first->second);
      if (!same) {
        out.push_back(key);
        break;
      }
    }
  }
  return out;
}

std::string display_value(const std::string& json_value) {
  try {
    const nlohmann::json j = nlohmann::json::parse(json_value);
    if (j.is_string()) return j.get<std::string>();
  } catch (const std::exception&) {
  }
  return json_value;
}

}  // namespace tfm::report
