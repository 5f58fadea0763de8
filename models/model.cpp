#include "models/model.h"

#include <map>

#include "core/config.h"

namespace tfm {
namespace {
std::map<std::string, ModelFactory>& table() {
  static auto* t = new std::map<std::string, ModelFactory>();
  return *t;
}
}  // namespace

bool ModelRegistry::add(const std::string& type, ModelFactory factory) {
  TFM_CHECK(!table().contains(type), "model type \"", type, "\" is registered twice");
  table()[type] = std::move(factory);
  return true;
}

std::vector<std::string> ModelRegistry::types() {
  std::vector<std::string> out;
  for (auto& [t, f] : table()) out.push_back(t);
  return out;
}

std::unique_ptr<Model> ModelRegistry::create(const nlohmann::json& config) {
  TFM_CHECK(config.is_object(), "config: model must be a JSON object, found ", config.dump());
  TFM_CHECK(config.contains("type") && config["type"].is_string(), "config: model.type is missing (one of: ",
            [] { std::string s; for (auto& t : types()) s += (s.empty() ? "" : ", ") + t; return s; }(), ")");
  const std::string type = config["type"].get<std::string>();
  auto it = table().find(type);
  if (it == table().end()) {
    std::string near = nearest(type, types()), list;
    for (auto& t : types()) list += (list.empty() ? "" : ", ") + t;
    TFM_FAIL("config: model.type: unknown model type \"", type, "\" (one of: ", list, ")",
             near.empty() ? "" : " (did you mean \"" + near + "\"?)");
  }
  return it->second(config);
}

}  // namespace tfm
