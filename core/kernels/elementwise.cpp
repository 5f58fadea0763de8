#include "core/kernels/elementwise.h"

#include <algorithm>

#include "core/tensor.h"

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 14;
constexpr int64_t kRowChunks = 32;  // fixed: reductions independent of the thread count
}  // namespace

void add_forward(float* out, const float* a, const float* b, int64_t outer, int64_t inner, bool broadcast_b) {
  if (!broadcast_b) {
    const int64_t n = outer * inner;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
    return;
  }
#pragma omp parallel for schedule(static) if (outer * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) out[o * inner + i] = a[o * inner + i] + b[i];
  }
}

void sum_rows_accumulate(float* out, const float* x, int64_t outer, int64_t inner) {
  if (outer * inner <= kParallelMin) {
    for (int64_t o = 0; o < outer; ++o)
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) out[i] += x[o * inner + i];
    return;
  }
  const int64_t chunks = std::min(kRowChunks, outer);
  Tensor partial = Tensor::zeros({chunks, inner});
  float* p = partial.data();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = outer * c / chunks, end = outer * (c + 1) / chunks;
    float* pc = p + c * inner;
    for (int64_t o = begin; o < end; ++o)
#pragma omp simd
      for (int64_t i = 0; i < inner; ++i) pc[i] += x[o * inner + i];
  }
  for (int64_t c = 0; c < chunks; ++c)
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) out[i] += p[c * inner + i];
}

void add_backward(float* da, float* db, const float* dout, int64_t outer, int64_t inner, bool broadcast_b) {
  const int64_t n = outer * inner;
  if (da != nullptr) axpy(da, dout, 1.0f, n);
  if (db == nullptr) return;
  if (broadcast_b)
    sum_rows_accumulate(db, dout, outer, inner);
  else
    axpy(db, dout, 1.0f, n);
}

void mul_forward(float* out, const float* a, const float* b, int64_t outer, int64_t inner, bool broadcast_b) {
  if (!broadcast_b) {
    const int64_t n = outer * inner;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
    return;
  }
#pragma omp parallel for schedule(static) if (outer * inner > kParallelMin)
  for (int64_t o = 0; o < outer; ++o) {
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) out[o * inner + i] = a[o * inner + i] * b[i];
  }
}

void mul_backward(float* da, float* db, const float* dout, const float* a, const float* b, int64_t outer,
                  int64_t inner, bool broadcast_b) {
  const int64_t n = outer * inner;
  if (da != nullptr) {
    if (broadcast_b) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (int64_t o = 0; o < outer; ++o)
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) da[o * inner + i] += dout[o * inner + i] * b[i];
    } else {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
      for (int64_t i = 0; i < n; ++i) da[i] += dout[i] * b[i];
    }
  }
  if (db == nullptr) return;
  if (broadcast_b) {
    Tensor prod = Tensor::empty({outer, inner});
    float* p = prod.data();
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) p[i] = dout[i] * a[i];
    sum_rows_accumulate(db, p, outer, inner);
  } else {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
    for (int64_t i = 0; i < n; ++i) db[i] += dout[i] * a[i];
  }
}

void scale_forward(float* out, const float* x, float alpha, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = alpha * x[i];
}

void scale_backward(float* dx, const float* dout, float alpha, int64_t n) { axpy(dx, dout, alpha, n); }

void axpy(float* y, const float* x, float alpha, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

}  // namespace tfm
