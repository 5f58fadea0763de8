#pragma once
// Parameter initialisation schemes, seeded and reproducible.
#include <functional>

#include "autograd/variable.h"
#include "core/rng.h"

namespace tfm {

// What a parameter is, declared by the module that owns it (Module::register_parameter),
// so that a model's initialisation scheme never guesses from names.
enum class ParamRole {
  Weight,          // a projection's weight [out, in]
  ResidualWeight,  // a projection whose output is added to the residual stream (GPT-2 scales these)
  Embedding,       // an embedding table [n, dim]
  Bias,            // a projection's bias
  NormWeight,      // a norm's gain
  NormBias,        // a norm's shift
  Other,           // anything else: left as its module constructed it unless the scheme sets `other`
};
const char* param_role_name(ParamRole role);

// How a model initialises each role (Module::reset_parameters). An empty function
// leaves parameters of that role as their module constructed them.
struct InitScheme {
  using Fn = std::function<void(Variable&, Generator&)>;
  Fn weight, residual_weight, embedding, bias, norm_weight, norm_bias, other;
  const Fn& operator[](ParamRole role) const;

  // GPT-2 / nanoGPT: N(0, std) for weights and embeddings, N(0, std/√(2·n_layer)) for
  // residual projections, zero biases, unit gains.
  static InitScheme gpt2(int64_t n_layer, float std = 0.02f);
  // The reference Transformer (Vaswani et al.): Xavier-uniform projections, embeddings
  // N(0, d_model^-1/2) (unit variance after the √d_model scaling), zero biases, unit gains.
  static InitScheme xavier(int64_t d_model);
  // Every parameter U(±bound), whatever its role (Luong et al. 2015: bound 0.1).
  static InitScheme uniform_all(float bound);
};

}  // namespace tfm

namespace tfm::init {

void normal(Variable& p, float mean, float std, Generator& gen);
void uniform(Variable& p, float low, float high, Generator& gen);
void zeros(Variable& p);
void ones(Variable& p);
// Glorot & Bengio 2010: U(±√(6/(fan_in + fan_out))) for a [fan_out, fan_in] weight.
void xavier_uniform(Variable& p, Generator& gen);

}  // namespace tfm::init
