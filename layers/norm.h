#pragma once
// Normalisation layers over the last dimension: RMSNorm (Zhang & Sennrich
// 2019), and Norm, the LayerNorm-or-RMSNorm of a configurable block, whose
// parameters are named as LayerNorm's ("weight", "bias") whichever type it is.
#include <string>

#include "layers/basic.h"

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

// LayerNorm (weight and, when bias, bias) or RMSNorm (weight and, when bias, bias).
class Norm : public Module {
 public:
  Norm(NormType type, int64_t dim, float eps, bool bias);
  Variable forward(const Variable& x) const;
  Variable operator()(const Variable& x) const { return forward(x); }
  NormType type() const { return type_; }
  Variable weight, bias;  // bias undefined when disabled

 private:
  NormType type_;
  float eps_;
};

}  // namespace tfm
