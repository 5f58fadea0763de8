#include "core/kernels/embedding.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace tfm {

void embedding_forward(float* out, const int32_t* ids, const float* weight, int64_t n, int64_t vocab, int64_t dim) {
  for (int64_t i = 0; i < n; ++i)
    TFM_CHECK(ids[i] >= 0 && ids[i] < vocab, "embedding: id ", ids[i], " at position ", i,
              " out of range [0, ", vocab, ")");
#pragma omp parallel for schedule(static) if (n * dim > (1 << 14))
  for (int64_t i = 0; i < n; ++i) std::memcpy(out + i * dim, weight + ids[i] * dim, dim * sizeof(float));
}

void embedding_backward(float* dweight, const float* dout, const int32_t* ids, int64_t n, int64_t dim) {
  constexpr int64_t kColBlock = 64;
  const int64_t n_blocks = (dim + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) if (n * dim > (1 << 14))
  for (int64_t b = 0; b < n_blocks; ++b) {
    const int64_t c0 = b * kColBlock, c1 = std::min(dim, c0 + kColBlock);
    for (int64_t i = 0; i < n; ++i) {
      float* dst = dweight + ids[i] * dim;
      const float* src = dout + i * dim;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

}  // namespace tfm
