#include "core/kernels/norm.h"

#include <algorithm>
#include <cmath>

#include "core/tensor.h"

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 12;
constexpr int64_t kRowChunks = 32;  // fixed: dgamma/dbeta independent of the thread count
}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* x, const float* gamma,
                       const float* beta, int64_t rows, int64_t dim, float eps) {
#pragma omp parallel for schedule(static) if (rows * dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < dim; ++j) sum += xr[j];
    const float m = sum / static_cast<float>(dim);
    float var = 0.0f;  // two passes: no cancellation for large means
#pragma omp simd reduction(+ : var)
    for (int64_t j = 0; j < dim; ++j) var += (xr[j] - m) * (xr[j] - m);
    const float s = 1.0f / std::sqrt(var / static_cast<float>(dim) + eps);
    float* yr = out + r * dim;
    if (gamma != nullptr) {
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) yr[j] = (xr[j] - m) * s * gamma[j] + (beta ? beta[j] : 0.0f);
    } else {
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) yr[j] = (xr[j] - m) * s + (beta ? beta[j] : 0.0f);
    }
    if (mean != nullptr) mean[r] = m;
    if (rstd != nullptr) rstd[r] = s;
  }
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dout, const float* x,
                        const float* mean, const float* rstd, const float* gamma, int64_t rows, int64_t dim) {
  const bool params = dgamma != nullptr || dbeta != nullptr;
  const int64_t chunks = params ? std::max<int64_t>(1, std::min(kRowChunks, rows)) : 1;
  Tensor partial;
  float* pg = nullptr;
  float* pb = nullptr;
  if (params) {
    partial = Tensor::zeros({2, chunks, dim});
    pg = partial.data();
    pb = pg + chunks * dim;
  }
  const int64_t n_chunks = params ? chunks : std::max<int64_t>(1, std::min(kRowChunks, rows));
#pragma omp parallel for schedule(static) if (rows * dim > kParallelMin)
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t begin = rows * c / n_chunks, end = rows * (c + 1) / n_chunks;
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * dim;
      const float* g = dout + r * dim;
      const float m = mean[r], s = rstd[r];
      // dnorm = dout·gamma; dx = rstd·(dnorm − mean(dnorm) − xhat·mean(dnorm·xhat))
      float sum_dn = 0.0f, sum_dn_xhat = 0.0f;
#pragma omp simd reduction(+ : sum_dn, sum_dn_xhat)
      for (int64_t j = 0; j < dim; ++j) {
        const float xhat = (xr[j] - m) * s;
        const float dn = gamma ? g[j] * gamma[j] : g[j];
        sum_dn += dn;
        sum_dn_xhat += dn * xhat;
      }
      const float mean_dn = sum_dn / static_cast<float>(dim);
      const float mean_dn_xhat = sum_dn_xhat / static_cast<float>(dim);
      if (dx != nullptr) {
        float* d = dx + r * dim;
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) {
          const float xhat = (xr[j] - m) * s;
          const float dn = gamma ? g[j] * gamma[j] : g[j];
          d[j] += (dn - mean_dn - xhat * mean_dn_xhat) * s;
        }
      }
      if (params) {
        float* pgc = pg + c * dim;
        float* pbc = pb + c * dim;
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) {
          pgc[j] += g[j] * (xr[j] - m) * s;
          pbc[j] += g[j];
        }
      }
    }
  }
  if (!params) return;
  for (int64_t c = 0; c < chunks; ++c) {
    if (dgamma != nullptr)
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) dgamma[j] += pg[c * dim + j];
    if (dbeta != nullptr)
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) dbeta[j] += pb[c * dim + j];
  }
}

}  // namespace tfm

namespace tfm {

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* gamma, const float* beta, int64_t rows,
                     int64_t dim, float eps) {
#pragma omp parallel for schedule(static) if (rows * dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float sum_sq = 0.0f;
#pragma omp simd reduction(+ : sum_sq)
    for (int64_t j = 0; j < dim; ++j) sum_sq += xr[j] * xr[j];
    const float s = 1.0f / std::sqrt(sum_sq / static_cast<float>(dim) + eps);
    float* yr = out + r * dim;
#pragma omp simd
    for (int64_t j = 0; j < dim; ++j) yr[j] = xr[j] * s * (gamma ? gamma[j] : 1.0f) + (beta ? beta[j] : 0.0f);
    if (rstd != nullptr) rstd[r] = s;
  }
}

void rmsnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dout, const float* x, const float* rstd,
                      const float* gamma, int64_t rows, int64_t dim) {
  const bool params = dgamma != nullptr || dbeta != nullptr;
  const int64_t chunks = std::max<int64_t>(1, std::min(kRowChunks, rows));
  Tensor partial;
  if (params) partial = Tensor::zeros({2, chunks, dim});
  float* pg = params ? partial.data() : nullptr;
  float* pb = params ? pg + chunks * dim : nullptr;
#pragma omp parallel for schedule(static) if (rows * dim > kParallelMin)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = rows * c / chunks, end = rows * (c + 1) / chunks;
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * dim;
      const float* g = dout + r * dim;
      const float s = rstd[r];
      // xhat = x·rstd, dnorm = dout·gamma: dx = rstd·(dnorm − xhat·mean(dnorm·xhat))
      if (dx != nullptr) {
        float sum_dn_xhat = 0.0f;
#pragma omp simd reduction(+ : sum_dn_xhat)
        for (int64_t j = 0; j < dim; ++j) sum_dn_xhat += (gamma ? g[j] * gamma[j] : g[j]) * xr[j] * s;
        const float mean_dn_xhat = sum_dn_xhat / static_cast<float>(dim);
        float* d = dx + r * dim;
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) d[j] += ((gamma ? g[j] * gamma[j] : g[j]) - xr[j] * s * mean_dn_xhat) * s;
      }
      if (params) {
        float* pgc = pg + c * dim;
        float* pbc = pb + c * dim;
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) {
          pgc[j] += g[j] * xr[j] * s;
          pbc[j] += g[j];
        }
      }
    }
  }
  if (!params) return;
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t j = 0; j < dim; ++j) {
      if (dgamma != nullptr) dgamma[j] += pg[c * dim + j];
      if (dbeta != nullptr) dbeta[j] += pb[c * dim + j];
    }
}

}  // namespace tfm
