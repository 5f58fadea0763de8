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
