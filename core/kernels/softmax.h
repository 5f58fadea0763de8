#pragma once
// Row-wise softmax and log-softmax over the last dimension, numerically stable
// (the row maximum is subtracted before exponentiating). Backward accumulates.
#include <cstdint>

namespace tfm {

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols);
// dx += out ⊙ (dout − Σ_j dout_j·out_j)
void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols);
void log_softmax_forward(float* out, const float* x, int64_t rows, int64_t cols);
// dx += dout − exp(out)·Σ_j dout_j
void log_softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols);

}  // namespace tfm
