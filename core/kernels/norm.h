#pragma once
// Layer normalisation over the last dimension (Ba et al. 2016), statistics in
// fp32: y = (x − mean)·rstd·gamma + beta, rstd = 1/√(var + eps), biased variance
// as in PyTorch. gamma/beta may be null (no elementwise affine).
#include <cstdint>

namespace tfm {

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* gamma,
                       const float* beta, int64_t rows, int64_t dim, float eps);
// Accumulates dx, dgamma, dbeta (each may be null).
void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dout, const float* x,
                        const float* mean, const float* rstd, const float* gamma, int64_t rows, int64_t dim);

// RMSNorm over the last dimension (Zhang & Sennrich 2019), statistics in fp32:
// y = x·rstd·gamma + beta, rstd = 1/√(mean(x²) + eps). gamma/beta may be null.
void rmsnorm_forward(float* out, float* rstd, const float* x, const float* gamma, const float* beta, int64_t rows,
                     int64_t dim, float eps);
// Accumulates dx, dgamma, dbeta (each may be null).
void rmsnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dout, const float* x, const float* rstd,
                      const float* gamma, int64_t rows, int64_t dim);

}  // namespace tfm
