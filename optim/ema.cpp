#include "optim/ema.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 14;
}  // namespace

WeightEma::WeightEma(const NamedParameters& params, const EmaConfig& config) : config_(config) {
  TFM_CHECK(config.decay > 0.0 && config.decay < 1.0, "ema: decay must be in (0, 1), found ", config.decay);
  TFM_CHECK(config.start >= 0, "ema: start must be >= 0, found ", config.start);
  std::unordered_map<const VariableImpl*, size_t> seen;
  for (auto& [name, p] : params) {
    const auto [it, first] = seen.emplace(p->impl(), slots_.size());
    TFM_CHECK(p->data().dtype() == DType::F32, "ema: parameter \"", name, "\" is ", dtype_name(p->data().dtype()),
              ", expected F32");
    slots_.push_back({name, p, first ? p->data().copy() : slots_[it->second].average, first});
  }
}

void WeightEma::update(int64_t step) {
  if (step < config_.start) {
    reset();
    return;
  }
  // decay·a + (1 − decay)·w written as a + (1 − decay)·(w − a): the same average, exact when w = a.
  const float rate = static_cast<float>(1.0 - config_.decay);
  for (auto& s : slots_) {
    if (!s.first) continue;
    float* a = s.average.data();
    const float* w = s.param->data().data();
    const int64_t n = s.average.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) a[i] += rate * (w[i] - a[i]);
  }
}

void WeightEma::reset() {
  for (auto& s : slots_)
    if (s.first) s.average.copy_from(s.param->data());
}

void WeightEma::swap() {
  for (auto& s : slots_) {
    if (!s.first) continue;
    float* a = s.average.data();
    float* w = s.param->mutable_data().data();
    const int64_t n = s.average.numel();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) {
      const float t = a[i];
      a[i] = w[i];
      w[i] = t;
    }
  }
}

std::vector<std::pair<std::string, Tensor>> WeightEma::averages() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(slots_.size());
  for (auto& s : slots_) out.emplace_back(s.name, s.average);
  return out;
}

void WeightEma::load(const std::vector<std::pair<std::string, Tensor>>& averages) {
  std::unordered_map<std::string, const Tensor*> by_name;
  for (auto& [name, t] : averages) by_name.emplace(name, &t);
  for (auto& s : slots_) {
    if (!s.first) continue;
    const auto it = by_name.find(s.name);
    TFM_CHECK(it != by_name.end(), "ema: missing the average of \"", s.name, "\"");
    const Tensor& t = *it->second;
    TFM_CHECK(t.dtype() == DType::F32 && t.shape() == s.average.shape(), "ema: the average of \"", s.name,
              "\": expected F32 ", s.average.shape(), ", found ", dtype_name(t.dtype()), " ", t.shape());
    s.average.copy_from(t);
  }
}

}  // namespace tfm
