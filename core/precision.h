#pragma once
// Compute precision of the GEMMs (linear layers, fused projections, attention's
// Q Kᵀ and P V), per thread, in the spirit of torch.autocast: under
// Precision::BF16 the operands of those GEMMs are rounded to bf16 (to nearest
// even) and every product is accumulated in fp32; everything else (softmax,
// normalisation statistics, the residual stream, losses, gradients, weights and
// optimizer state) stays fp32. Set with a PrecisionScope around forward and
// backward passes.
//
// Within a Bf16WeightCache (one training step, one inference call) each weight
// is converted to bf16 once and reused by every GEMM that reads it, forward and
// backward; weights must not change while the cache lives (the optimizer runs
// after it ends). Without one, each GEMM converts its weight itself.
#include <cstdint>
#include <string_view>
#include <unordered_map>

#include "core/kernels/convert.h"
#include "core/tensor.h"

namespace tfm {

enum class Precision : uint8_t { F32, BF16 };
const char* precision_name(Precision p);

Precision compute_precision();  // this thread's; F32 by default
inline bool bf16_compute() { return compute_precision() == Precision::BF16; }

class PrecisionScope {
 public:
  explicit PrecisionScope(Precision p);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

// src[n] rounded to bf16, as a fresh BF16 tensor of the given shape.
Tensor to_bf16_tensor(const float* src, const Shape& shape);

class Bf16WeightCache {
 public:
  Bf16WeightCache();  // becomes this thread's cache until destroyed
  ~Bf16WeightCache();
  Bf16WeightCache(const Bf16WeightCache&) = delete;
  Bf16WeightCache& operator=(const Bf16WeightCache&) = delete;
  int64_t conversions() const { return conversions_; }

 private:
  friend Tensor bf16_weight(const float* w, const Shape& shape);
  struct Key {
    const float* ptr;
    int64_t numel;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return std::hash<const void*>()(k.ptr) ^ static_cast<size_t>(k.numel); }
  };
  std::unordered_map<Key, Tensor, KeyHash> copies_;
  Bf16WeightCache* previous_;
  int64_t conversions_ = 0;
};

// The bf16 copy of weight w (shape.numel() floats): the active cache's, made on
// first use, or a fresh conversion when no cache is active.
Tensor bf16_weight(const float* w, const Shape& shape);

}  // namespace tfm
