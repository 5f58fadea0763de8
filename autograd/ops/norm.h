#pragma once
#include "autograd/variable.h"

namespace tfm {

// Layer norm over the last dimension; gamma/beta [dim] or undefined (no affine).
Variable layer_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps);
// RMSNorm over the last dimension (Zhang & Sennrich 2019): x/√(mean(x²) + eps)·gamma + beta;
// gamma/beta [dim] or undefined.
Variable rms_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps);

}  // namespace tfm
