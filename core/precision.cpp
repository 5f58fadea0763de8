#include "core/precision.h"

namespace tfm {
namespace {
thread_local Precision current_precision = Precision::F32;
thread_local Bf16WeightCache* current_cache = nullptr;
}  // namespace

const char* precision_name(Precision p) { return p == Precision::BF16 ? "bf16" : "fp32"; }

Precision compute_precision() { return current_precision; }

PrecisionScope::PrecisionScope(Precision p) : previous_(current_precision) { current_precision = p; }
PrecisionScope::~PrecisionScope() { current_precision = previous_; }

Tensor to_bf16_tensor(const float* src, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::BF16);
  f32_to_bf16(src, static_cast<bf16_t*>(t.raw_data()), shape.numel());
  return t;
}

Bf16WeightCache::Bf16WeightCache() : previous_(current_cache) { current_cache = this; }
Bf16WeightCache::~Bf16WeightCache() { current_cache = previous_; }

Tensor bf16_weight(const float* w, const Shape& shape) {
  Bf16WeightCache* cache = current_cache;
  if (cache == nullptr) return to_bf16_tensor(w, shape);
  const Bf16WeightCache::Key key{w, shape.numel()};
  auto it = cache->copies_.find(key);
  if (it != cache->copies_.end()) return it->second.reshape(shape);
  ++cache->conversions_;
  return cache->copies_.emplace(key, to_bf16_tensor(w, shape)).first->second;
}

}  // namespace tfm
