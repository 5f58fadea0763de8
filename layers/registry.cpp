#include "layers/registry.h"

namespace tfm {

LayerTable& LayerRegistry::table() {
  static LayerTable t("layer");
  return t;
}

bool LayerRegistry::add(const std::string& name, LayerFactory factory) {
  return table().add(name, std::move(factory));
}

bool LayerRegistry::contains(const std::string& name) { return table().contains(name); }

std::vector<std::string> LayerRegistry::names() { return table().names(); }

std::unique_ptr<SequenceLayer> LayerRegistry::create(const std::string& name, const LayerContext& context,
                                                     const nlohmann::json& options) {
  return table().create(name, context, options);
}

LayerSlot LayerSlot::parse(const nlohmann::json& value, const std::string& fallback, const std::string& key_path) {
  return parse(LayerRegistry::table(), value, fallback, key_path);
}

LayerSlot LayerSlot::parse_form(const nlohmann::json& value, const std::string& fallback,
                                     const std::string& key_path) {
  LayerSlot slot{fallback};
  if (value.is_string()) {
    slot.type = value.get<std::string>();
  } else if (value.is_object()) {
    TFM_CHECK(value.contains("type") && value["type"].is_string(), "config: ", key_path,
              ": expected {\"type\": NAME, ...}, found ", value.dump());
    slot.type = value["type"].get<std::string>();
    slot.options = value;
    slot.options.erase("type");
  } else {
    TFM_CHECK(value.is_null(), "config: ", key_path, ": expected a layer name or {\"type\": NAME, ...}, found ",
              value.dump());
  }
  return slot;
}

nlohmann::json LayerSlot::to_json() const {
  if (options.empty()) return type;
  nlohmann::json j = options;
  j["type"] = type;
  return j;
}

std::unique_ptr<SequenceLayer> LayerSlot::create(const LayerContext& context) const {
  return LayerRegistry::create(type, context, options);
}

}  // namespace tfm
