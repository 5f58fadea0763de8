#include "layers/registry.h"

#include <map>

namespace tfm {
namespace {
std::map<std::string, LayerFactory>& table() {
  static auto* t = new std::map<std::string, LayerFactory>();
  return *t;
}
}  // namespace

bool LayerRegistry::add(const std::string& name, LayerFactory factory) {
  TFM_CHECK(!table().contains(name), "layer \"", name, "\" is registered twice");
  table()[name] = std::move(factory);
  return true;
}

bool LayerRegistry::contains(const std::string& name) { return table().contains(name); }

std::vector<std::string> LayerRegistry::names() {
  std::vector<std::string> out;
  for (auto& [name, f] : table()) out.push_back(name);
  return out;
}

std::unique_ptr<SequenceLayer> LayerRegistry::create(const std::string& name, const LayerContext& context,
                                                     const nlohmann::json& options) {
  auto it = table().find(name);
  if (it == table().end()) {
    std::string known;
    for (auto& n : names()) known += (known.empty() ? "" : ", ") + n;
    TFM_FAIL("unknown layer \"", name, "\" (registered layers: ", known, ")");
  }
  return it->second(context, options);
}

}  // namespace tfm
