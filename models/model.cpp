#include "models/model.h"

namespace tfm {
namespace {
const ModelTable::Entry& entry(const nlohmann::json& config) {
  TFM_CHECK(config.is_object(), "config: model must be a JSON object, found ", config.dump());
  TFM_CHECK(config.contains("type") && config["type"].is_string(), "config: model.type is missing (one of: ",
            join_names(ModelRegistry::types()), ")");
  return ModelRegistry::table().get(config["type"].get<std::string>(), "config: model.type");
}
}  // namespace

const char* data_kind_name(DataKind kind) { return kind == DataKind::Text ? "text" : "parallel"; }

ModelTable& ModelRegistry::table() {
  static ModelTable t("model type");
  return t;
}

bool ModelRegistry::add(const std::string& type, ModelFactory factory, DataKind data) {
  return table().add(type, std::move(factory), {}, {}, data);
}

std::vector<std::string> ModelRegistry::types() { return table().names(); }

std::vector<std::string> ModelRegistry::types(DataKind data) {
  std::vector<std::string> out;
  for (const ModelTable::Entry* e : table().entries())
    if (e->extra.data == data) out.push_back(e->name);
  return out;
}

DataKind ModelRegistry::data_kind(const std::string& type) { return table().get(type, "config: model.type").extra.data; }

DataKind ModelRegistry::data_kind_for(const nlohmann::json& config) { return entry(config).extra.data; }

nlohmann::json ModelRegistry::resolve(const nlohmann::json& config) {
  const auto& resolve = entry(config).extra.resolve;
  return resolve ? resolve(config) : config;
}

std::unique_ptr<Model> ModelRegistry::create(const nlohmann::json& config) { return entry(config).factory(config); }

}  // namespace tfm
