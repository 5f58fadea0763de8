#include "core/kernels/dropout.h"

#include "core/rng.h"

namespace tfm {
namespace {

template <bool kAccumulate>
void apply_mask(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t first_block) {
  const Generator gen(seed);
  const float keep_scale = 1.0f / (1.0f - p);
  const int64_t n_blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > (1 << 14))
  for (int64_t b = 0; b < n_blocks; ++b) {
    auto r = gen.block(first_block + b);
    for (int j = 0; j < 4 && b * 4 + j < n; ++j) {
      const int64_t i = b * 4 + j;
      const float v = u32_to_unit_float(r[j]) >= p ? in[i] * keep_scale : 0.0f;
      if constexpr (kAccumulate)
        out[i] += v;
      else
        out[i] = v;
    }
  }
}

}  // namespace

void dropout_forward(float* out, const float* x, int64_t n, float p, uint64_t seed, uint64_t first_block) {
  apply_mask<false>(out, x, n, p, seed, first_block);
}

void dropout_backward(float* dx, const float* dout, int64_t n, float p, uint64_t seed, uint64_t first_block) {
  apply_mask<true>(dx, dout, n, p, seed, first_block);
}

}  // namespace tfm
