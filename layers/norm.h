#pragma once
// Normalisation layers over the last dimension: RMSNorm (Zhang & Sennrich
// 2019), and Norm, the LayerNorm-or-RMSNorm of a configurable block, whose
// parameters are named as LayerNorm's ("weight", "bias") whichever type it is.
#include <string>

#include "layers/basic.h"
#include "layers/registry.h"

namespace tfm {

enum class NormType { LayerNorm, RmsNorm };
// "layernorm" | "rmsnorm"; throws naming the value otherwise.
NormType parse_norm_type(const std::string& name);
const char* norm_type_name(NormType type);

// y = x/√(mean(x²) + eps)·weight (+ bias); weight ones, bias zeros.
class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t dim, float eps = 1e-5f, bool bias = false);
  Variable forward(const Variable& x) const { return rms_norm(x, weight, bias, eps_); }
  Variable operator()(const Variable& x) const { return forward(x); }
  float eps() const { return eps_; }
  Variable weight, bias;  // bias undefined unless requested

 private:
  float eps_;
};

// LayerNorm (weight and, when bias, bias) or RMSNorm (weight and, when bias, bias):
// the registered norms "layernorm" and "rmsnorm".
class Norm : public SequenceLayer {
 public:
  Norm(NormType type, int64_t dim, float eps, bool bias);
  Variable forward(const Variable& x) override;
  NormType type() const { return type_; }
  Variable weight, bias;  // bias undefined when disabled

 private:
  NormType type_;
  float eps_;
};

// What a model tells a norm: its width, its eps (model.layer_norm_eps or the
// slot's "eps") and whether the model's layers have biases.
struct NormContext {
  int64_t d_model = 0;
  float eps = 1e-5f;
  bool bias = true;
};

// The norm slot of a block ("norm": "rmsnorm" | {"type": NAME, ...}): a
// registered norm is a position-wise SequenceLayer whose parameters, if any,
// are named "weight" and "bias" like LayerNorm's.
using NormTable = Registry<SequenceLayer, const NormContext&, const nlohmann::json&>;
NormTable& norm_registry();
// The slot's norm of width context.d_model.
std::unique_ptr<SequenceLayer> make_norm(const LayerSlot& slot, const NormContext& context);

}  // namespace tfm

// TFM_REGISTER_NORM("scalenorm", ScaleNorm, "help", {keys}): Class constructible
// from (const NormContext&, const nlohmann::json& options).
#define TFM_REGISTER_NORM(name, Class, help_text, ...)                                                   \
  TFM_REGISTRY_ADD(                                                                                    \
      ::tfm::norm_registry(), name,                                                                    \
      [](const ::tfm::NormContext& ctx, const nlohmann::json& opts) -> std::unique_ptr<::tfm::SequenceLayer> { \
        return std::make_unique<Class>(ctx, opts);                                                     \
      },                                                                                               \
      help_text __VA_OPT__(, __VA_ARGS__))
