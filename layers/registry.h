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

using LayerFactory =
    std::function<std::unique_ptr<SequenceLayer>(const LayerContext& context, const nlohmann::json& options)>;

class LayerRegistry {
 public:
  // Returns true so it can initialise a static (see TFM_REGISTER_LAYER).
  static bool add(const std::string& name, LayerFactory factory);
  // Throws tfm::Error naming the unknown layer and the registered ones.
  static std::unique_ptr<SequenceLayer> create(const std::string& name, const LayerContext& context,
                                               const nlohmann::json& options = nlohmann::json::object());
  static bool contains(const std::string& name);
  static std::vector<std::string> names();
};

}  // namespace tfm

#define TFM_REGISTRY_CONCAT_(a, b) a##b
#define TFM_REGISTRY_CONCAT(a, b) TFM_REGISTRY_CONCAT_(a, b)

// TFM_REGISTER_LAYER("gated_ffn", GatedFeedForward): Class must be constructible
// from (const LayerContext&, const nlohmann::json& options).
#define TFM_REGISTER_LAYER(name, Class)                                                                   \
  static const bool TFM_REGISTRY_CONCAT(tfm_layer_registered_, __COUNTER__) = ::tfm::LayerRegistry::add( \
      name, [](const ::tfm::LayerContext& ctx, const nlohmann::json& opts) -> std::unique_ptr<::tfm::SequenceLayer> { \
        return std::make_unique<Class>(ctx, opts);                                                        \
      })
