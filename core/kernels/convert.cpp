#include "core/kernels/convert.h"

#include <algorithm>

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 16;  // memory-bound: below this a parallel region costs more than it saves
}  // namespace

void f32_to_bf16(const float* src, bf16_t* dst, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i]);
}

void bf16_to_f32(const bf16_t* src, float* dst, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; ++i) dst[i] = from_bf16(src[i]);
}

void pointwise_to_bf16(void (*f)(float*, const float*, int64_t), bf16_t* out, const float* x, int64_t n) {
  constexpr int64_t kChunk = 2048;  // 8 KiB of fp32: stays in L1
#pragma omp parallel if (n > kParallelMin)
  {
    alignas(64) float buf[kChunk];
#pragma omp for schedule(static)
    for (int64_t c = 0; c < n; c += kChunk) {
      const int64_t m = std::min(kChunk, n - c);
      f(buf, x + c, m);  // below the kernels' own parallel threshold: runs on this thread
#pragma omp simd
      for (int64_t i = 0; i < m; ++i) out[c + i] = to_bf16(buf[i]);
    }
  }
}

}  // namespace tfm
