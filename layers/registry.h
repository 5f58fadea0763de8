#pragma once
// Layers created by name from JSON. A layer registers itself where it is
// defined (TFM_REGISTER_LAYER), so a user's own layer plugs into configs
// without any edit of tfm: a model asks the registry for, say, its
// feed-forward sublayer by the name in its config ("ffn": "gated_ffn").
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/ops/activation.h"
#include "core/registry.h"
#include "layers/module.h"

namespace tfm {

// A position-wise layer [batch, len, d_model] → [batch, len, d_model]
// (the feed-forward sublayer of a Transformer block, or a user's replacement).
class SequenceLayer : public Module {
 public:
  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }
};

// What a model tells a layer about its surroundings.
struct LayerContext {
  int64_t d_model = 0;
  int64_t d_ff = 0;
  Activation activation = Activation::Gelu;
  float dropout = 0.0f;
  bool bias = true;  // false: the model's Linear layers have no bias (a layer may honour it)
};

using LayerTable = Registry<SequenceLayer, const LayerContext&, const nlohmann::json&>;
using LayerFactory = LayerTable::Factory;

class LayerRegistry {
 public:
  // The one table (core/registry.h): entries with their help and option keys.
  static LayerTable& table();
  // Returns true so it can initialise a static (see TFM_REGISTER_LAYER).
  static bool add(const std::string& name, LayerFactory factory);
  // Throws tfm::Error naming the unknown layer, the registered ones and the nearest.
  static std::unique_ptr<SequenceLayer> create(const std::string& name, const LayerContext& context,
                                               const nlohmann::json& options = nlohmann::json::object());
  static bool contains(const std::string& name);
  static std::vector<std::string> names();
};

// A config slot that names a registered layer: "ffn": "gated_ffn", or
// "ffn": {"type": "gated_ffn", ...options} (the keys besides "type" go to the
// layer). Every sublayer slot of the models has this form: attention
// (layers/attention.h), ffn (this table), norm (layers/norm.h), head.
struct LayerSlot {
  std::string type;
  nlohmann::json options = nlohmann::json::object();

  // value: the slot's JSON (null: fallback); key_path names it in messages
  // ("model.ffn"). The type must be registered in table.
  template <typename Table>
  static LayerSlot parse(const Table& table, const nlohmann::json& value, const std::string& fallback,
                         const std::string& key_path) {
    LayerSlot slot = parse_form(value, fallback, key_path);
    const auto& entry = table.get(slot.type, "config: " + key_path);
    // An entry that declares its keys gets only those (one that declares none checks its own).
    if (!entry.keys.empty())
      for (const auto& [key, v] : slot.options.items()) {
        std::vector<std::string> known;
        for (const auto& k : entry.keys) known.push_back(k.name);
        TFM_CHECK(entry.has_key(key), "config: unknown key ", key_path, ".", key, " (", table.kind(), " \"",
                  slot.type, "\" takes: ", join_names(known), ")");
      }
    return slot;
  }
  // The feed-forward slot (LayerRegistry).
  static LayerSlot parse(const nlohmann::json& value, const std::string& fallback, const std::string& key_path);
  // The same form without looking the name up.
  static LayerSlot parse_form(const nlohmann::json& value, const std::string& fallback, const std::string& key_path);
  // The name alone when there are no options, so old configs stay as they were.
  nlohmann::json to_json() const;
  // A feed-forward layer (LayerRegistry).
  std::unique_ptr<SequenceLayer> create(const LayerContext& context) const;
  bool operator==(const LayerSlot&) const = default;
};

}  // namespace tfm

// TFM_REGISTER_LAYER("gated_ffn", GatedFeedForward): Class must be constructible
// from (const LayerContext&, const nlohmann::json& options).
#define TFM_REGISTER_LAYER(name, Class)                                                                   \
  static const bool TFM_REGISTRY_CONCAT(tfm_layer_registered_, __COUNTER__) = ::tfm::LayerRegistry::add( \
      name, [](const ::tfm::LayerContext& ctx, const nlohmann::json& opts) -> std::unique_ptr<::tfm::SequenceLayer> { \
        return std::make_unique<Class>(ctx, opts);                                                        \
      })

// The same with a help line and the option keys the layer reads, for
// `tfm help config-keys`: TFM_REGISTER_LAYER_DOC("gated_ffn", GatedFeedForward,
// "GLU feed-forward (Shazeer 2020)", {{"gate", "string", "\"gelu\"", "gate activation"}}).
#define TFM_REGISTER_LAYER_DOC(name, Class, help_text, ...)                                               \
  TFM_REGISTRY_ADD(                                                                                      \
      ::tfm::LayerRegistry::table(), name,                                                               \
      [](const ::tfm::LayerContext& ctx, const nlohmann::json& opts) -> std::unique_ptr<::tfm::SequenceLayer> { \
        return std::make_unique<Class>(ctx, opts);                                                       \
      },                                                                                                 \
      help_text __VA_OPT__(, __VA_ARGS__))
