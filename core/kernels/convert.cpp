#include "core/kernels/convert.h"

#include "core/tensor.h"

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
  // Through a transient fp32 buffer, each pass parallel on its own: calling f chunk by
  // chunk from inside a parallel region (nested, inactive regions) ran 10x slower.
  Tensor tmp = Tensor::empty({n});
  f(tmp.data(), x, n);
  f32_to_bf16(tmp.data(), out, n);
}

}  // namespace tfm
