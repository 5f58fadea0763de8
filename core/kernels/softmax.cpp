#include "core/kernels/softmax.h"

#include "core/kernels/vecmath.h"

#include <cmath>
#include <algorithm>
#include <limits>

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 13;
}

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, xr[j]);
    if (mx == -std::numeric_limits<float>::infinity()) mx = 0.0f;  // fully masked row: all zeros below
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) {
      yr[j] = vec::exp(xr[j] - mx);
      sum += yr[j];
    }
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dout + r * cols;
    const float* y = out + r * cols;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < cols; ++j) dot += g[j] * y[j];
    float* d = dx + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) d[j] += y[j] * (g[j] - dot);
  }
}

void log_softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, xr[j]);
    if (mx == -std::numeric_limits<float>::infinity()) {  // fully masked row: -inf stays -inf, no NaN
      std::fill(yr, yr + cols, -std::numeric_limits<float>::infinity());
      continue;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) sum += vec::exp(xr[j] - mx);
    const float lse = mx + std::log(sum);
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
  }
}

void log_softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dout + r * cols;
    const float* y = out + r * cols;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) sum += g[j];
    float* d = dx + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) d[j] += g[j] - vec::exp(y[j]) * sum;
  }
}

}  // namespace tfm
