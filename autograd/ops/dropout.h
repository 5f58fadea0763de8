#pragma once
#include "autograd/variable.h"
#include "core/rng.h"

namespace tfm {

// Inverted dropout with probability p; identity when !training or p == 0.
// Draws its mask from gen (advancing it), so runs are reproducible from the seed.
Variable dropout(const Variable& x, float p, bool training, Generator& gen);

}  // namespace tfm
