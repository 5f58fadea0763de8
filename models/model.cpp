#include "models/model.h"

#include <map>

#include "core/config.h"

namespace tfm {
namespace {
struct Entry {
  ModelFactory factory;
  DataKind data;
};

std::map<std::string, Entry>& table() {
  static auto* t = new std::map<std::string, Entry>();
  return *t;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

const Entry& entry(const std::string& type) {
  auto it = table().find(type);
  if (it == table().end()) {
    const std::string near = nearest(type, ModelRegistry::types());
    TFM_FAIL("config: model.type: unknown model type \"", type, "\" (one of: ", joined(ModelRegistry::types()), ")",
             near.empty() ? "" : " (did you mean \"" + near + "\"?)");
  }
  return it->second;
}

const Entry& entry(const nlohmann::json& config) {
  TFM_CHECK(config.is_object(), "config: model must be a JSON object, found ", config.dump());
  TFM_CHECK(config.contains("type") && config["type"].is_string(), "config: model.type is missing (one of: ",
            joined(ModelRegistry::types()), ")");
  return entry(config["type"].get<std::string>());
}
}  // namespace

const char* data_kind_name(DataKind kind) { return kind == DataKind::Text ? "text" : "parallel"; }

bool ModelRegistry::add(const std::string& type, ModelFactory factory, DataKind data) {
  TFM_CHECK(!table().contains(type), "model type \"", type, "\" is registered twice");
  table()[type] = Entry{std::move(factory), data};
  return true;
}

std::vector<std::string> ModelRegistry::types() {
  std::vector<std::string> out;
  for (auto& [t, e] : table()) out.push_back(t);
  return out;
}

std::vector<std::string> ModelRegistry::types(DataKind data) {
  std::vector<std::string> out;
  for (auto& [t, e] : table())
    if (e.data == data) out.push_back(t);
  return out;
}

DataKind ModelRegistry::data_kind(const std::string& type) { return entry(type).data; }

DataKind ModelRegistry::data_kind_for(const nlohmann::json& config) { return entry(config).data; }

std::unique_ptr<Model> ModelRegistry::create(const nlohmann::json& config) { return entry(config).factory(config); }

}  // namespace tfm
