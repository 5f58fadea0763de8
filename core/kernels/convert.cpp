#include "core/kernels/convert.h"

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

}  // namespace tfm
