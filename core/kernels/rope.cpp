#include "core/kernels/rope.h"

#include <cmath>

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 14;
}  // namespace

void rope_table(float* cos, float* sin, int64_t positions, int64_t head_dim, double theta) {
  const int64_t half = head_dim / 2;
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * std::pow(theta, -2.0 * static_cast<double>(i) / head_dim);
      cos[p * half + i] = static_cast<float>(std::cos(angle));
      sin[p * half + i] = static_cast<float>(std::sin(angle));
    }
}

void rope_forward(float* out, const float* x, const float* cos, const float* sin, int64_t batch, int64_t len,
                  int64_t ld, int64_t n_heads, int64_t head_dim, int64_t pos_offset) {
  const int64_t half = head_dim / 2, rows = batch * len;
#pragma omp parallel for schedule(static) if (rows * n_heads * head_dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* c = cos + (pos_offset + r % len) * half;
    const float* s = sin + (pos_offset + r % len) * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* xa = x + r * ld + h * head_dim;
      const float* xb = xa + half;
      float* ya = out + r * ld + h * head_dim;
      float* yb = ya + half;
#pragma omp simd
      for (int64_t i = 0; i < half; ++i) {
        const float a = xa[i], b = xb[i];
        ya[i] = a * c[i] - b * s[i];
        yb[i] = b * c[i] + a * s[i];
      }
    }
  }
}

void rope_backward(float* dx, const float* dout, const float* cos, const float* sin, int64_t batch, int64_t len,
                   int64_t ld, int64_t n_heads, int64_t head_dim, int64_t pos_offset) {
  const int64_t half = head_dim / 2, rows = batch * len;
#pragma omp parallel for schedule(static) if (rows * n_heads * head_dim > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* c = cos + (pos_offset + r % len) * half;
    const float* s = sin + (pos_offset + r % len) * half;
    for (int64_t h = 0; h < n_heads; ++h) {
      const float* ga = dout + r * ld + h * head_dim;
      const float* gb = ga + half;
      float* da = dx + r * ld + h * head_dim;
      float* db = da + half;
#pragma omp simd
      for (int64_t i = 0; i < half; ++i) {
        const float a = ga[i], b = gb[i];
        da[i] += a * c[i] + b * s[i];
        db[i] += b * c[i] - a * s[i];
      }
    }
  }
}

}  // namespace tfm
