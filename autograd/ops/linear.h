#pragma once
#include "autograd/variable.h"

namespace tfm {

// x[..., n_in] · weightᵀ + bias, weight[n_out, n_in] (PyTorch layout), bias[n_out] or undefined.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);
// a[..., M, K] · b[..., K, N] (op(a), op(b) transposed when asked); leading
// dimensions must match exactly (batched matmul) or b may be 2-D (shared).
Variable matmul(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);

}  // namespace tfm
