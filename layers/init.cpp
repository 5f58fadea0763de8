#include "layers/init.h"

#include <cmath>

namespace tfm::init {

void normal(Variable& p, float mean, float std, Generator& gen) {
  fill_normal(p.mutable_data().data(), p.numel(), mean, std, gen);
}

void uniform(Variable& p, float low, float high, Generator& gen) {
  fill_uniform(p.mutable_data().data(), p.numel(), low, high, gen);
}

void zeros(Variable& p) { p.mutable_data().zero(); }
void ones(Variable& p) { p.mutable_data().fill(1.0f); }

void xavier_uniform(Variable& p, Generator& gen) {
  TFM_CHECK(p.shape().ndim() == 2, "xavier_uniform: expected a 2-D weight, found ", p.shape());
  const float bound = std::sqrt(6.0f / static_cast<float>(p.dim(0) + p.dim(1)));
  uniform(p, -bound, bound, gen);
}

}  // namespace tfm::init

namespace tfm {

const char* param_role_name(ParamRole role) {
  switch (role) {
    case ParamRole::Weight: return "weight";
    case ParamRole::ResidualWeight: return "residual_weight";
    case ParamRole::Embedding: return "embedding";
    case ParamRole::Bias: return "bias";
    case ParamRole::NormWeight: return "norm_weight";
    case ParamRole::NormBias: return "norm_bias";
    default: return "other";
  }
}

const InitScheme::Fn& InitScheme::operator[](ParamRole role) const {
  switch (role) {
    case ParamRole::Weight: return weight;
    case ParamRole::ResidualWeight: return residual_weight;
    case ParamRole::Embedding: return embedding;
    case ParamRole::Bias: return bias;
    case ParamRole::NormWeight: return norm_weight;
    case ParamRole::NormBias: return norm_bias;
    default: return other;
  }
}

namespace {
InitScheme::Fn normal_fn(float std) {
  return [std](Variable& p, Generator& gen) { init::normal(p, 0.0f, std, gen); };
}
void zeros_fn(Variable& p, Generator&) { init::zeros(p); }
void ones_fn(Variable& p, Generator&) { init::ones(p); }
}  // namespace

InitScheme InitScheme::gpt2(int64_t n_layer, float std) {
  InitScheme s;
  s.weight = s.embedding = normal_fn(std);
  s.residual_weight = normal_fn(std / std::sqrt(2.0f * static_cast<float>(n_layer)));
  s.bias = s.norm_bias = zeros_fn;
  s.norm_weight = ones_fn;
  return s;
}

InitScheme InitScheme::xavier(int64_t d_model) {
  InitScheme s;
  s.weight = s.residual_weight = [](Variable& p, Generator& gen) { init::xavier_uniform(p, gen); };
  s.embedding = normal_fn(1.0f / std::sqrt(static_cast<float>(d_model)));
  s.bias = s.norm_bias = zeros_fn;
  s.norm_weight = ones_fn;
  return s;
}

InitScheme InitScheme::uniform_all(float bound) {
  InitScheme s;
  s.weight = s.residual_weight = s.embedding = s.bias = s.norm_weight = s.norm_bias = s.other =
      [bound](Variable& p, Generator& gen) { init::uniform(p, -bound, bound, gen); };
  return s;
}

}  // namespace tfm
