#pragma once
#include <vector>

#include "autograd/variable.h"

namespace tfm {

// x[..., n_in] · weightᵀ + bias, weight[n_out, n_in] (PyTorch layout), bias[n_out] or undefined.
Variable linear(const Variable& x, const Variable& weight, const Variable& bias);
// x · [W_1; …; W_n]ᵀ + [b_1; …; b_n]: several linear maps of the same input,
// outputs side by side in the last dimension (fused q/k/v projections). When
// the weights (and biases, and their gradients) lie back to back in memory,
// forward and backward are single GEMMs; otherwise one GEMM per part, with no copies.
Variable linear_concat(const Variable& x, const std::vector<Variable>& weights, const std::vector<Variable>& biases);
// a[..., M, K] · b[..., K, N] (op(a), op(b) transposed when asked); leading
// dimensions must match exactly (batched matmul) or b may be 2-D (shared).
Variable matmul(const Variable& a, const Variable& b, bool trans_a = false, bool trans_b = false);

}  // namespace tfm
