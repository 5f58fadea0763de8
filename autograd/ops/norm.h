#pragma once
#include "autograd/variable.h"

namespace tfm {

// Layer norm over the last dimension; gamma/beta [dim] or undefined (no affine).
Variable layer_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps);

}  // namespace tfm
