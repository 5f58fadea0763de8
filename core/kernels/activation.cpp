#include "core/kernels/activation.h"

#include <cmath>

#include "core/kernels/vecmath.h"

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 14;
constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;
constexpr float kGeluTanhC = 0.044715f;
}  // namespace

void gelu_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * x[i] * (1.0f + vec::erf(x[i] * kInvSqrt2));
}

void gelu_backward(float* dx, const float* dout, const float* x, int64_t n) {
  // d/dx x·Φ(x) = Φ(x) + x·φ(x)
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    float cdf = 0.5f * (1.0f + vec::erf(x[i] * kInvSqrt2));
    float pdf = kInvSqrt2Pi * vec::exp(-0.5f * x[i] * x[i]);
    dx[i] += dout[i] * (cdf + x[i] * pdf);
  }
}

void gelu_tanh_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    out[i] = 0.5f * v * (1.0f + vec::tanh(kSqrt2OverPi * (v + kGeluTanhC * v * v * v)));
  }
}

void gelu_tanh_backward(float* dx, const float* dout, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i];
    float t = vec::tanh(kSqrt2OverPi * (v + kGeluTanhC * v * v * v));
    float dinner = kSqrt2OverPi * (1.0f + 3.0f * kGeluTanhC * v * v);
    dx[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * dinner);
  }
}

void relu_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward(float* dx, const float* dout, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dout[i] : 0.0f;
}

void tanh_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = vec::tanh(x[i]);
}

void tanh_backward(float* dx, const float* dout, const float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void sigmoid_forward(float* out, const float* x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = 1.0f / (1.0f + vec::exp(-x[i]));
}

void sigmoid_backward(float* dx, const float* dout, const float* out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] += dout[i] * out[i] * (1.0f - out[i]);
}

}  // namespace tfm
