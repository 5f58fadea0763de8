#include "core/kernels/dropout.h"

#include <algorithm>

#include "core/rng.h"

namespace tfm {
namespace {

template <bool kAccumulate>
void apply_mask(float* out, const float* in, int64_t n, float p, uint64_t seed, uint64_t first_block) {
  const Generator gen(seed);
  const float keep_scale = 1.0f / (1.0f - p);
  constexpr int64_t kChunk = 1024;  // elements per chunk: their random words fit on the stack
  const int64_t n_chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > (1 << 14))
  for (int64_t c = 0; c < n_chunks; ++c) {
    alignas(64) uint32_t r[kChunk];
    const int64_t i0 = c * kChunk, m = std::min(kChunk, n - i0);
    gen.words(first_block * 4 + static_cast<uint64_t>(i0), m, r);
    for (int64_t j = 0; j < m; ++j) {
      const float v = u32_to_unit_float(r[j]) >= p ? in[i0 + j] * keep_scale : 0.0f;
      if constexpr (kAccumulate)
        out[i0 + j] += v;
      else
        out[i0 + j] = v;
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
