#pragma once
// Parameter initialisation schemes, seeded and reproducible.
#include "autograd/variable.h"
#include "core/rng.h"

namespace tfm::init {

void normal(Variable& p, float mean, float std, Generator& gen);
void uniform(Variable& p, float low, float high, Generator& gen);
void zeros(Variable& p);
void ones(Variable& p);
// Glorot & Bengio 2010: U(±√(6/(fan_in + fan_out))) for a [fan_out, fan_in] weight.
void xavier_uniform(Variable& p, Generator& gen);

}  // namespace tfm::init
