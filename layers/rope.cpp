#include "layers/rope.h"

#include <algorithm>

#include "core/error.h"
#include "core/kernels/rope.h"

namespace tfm {

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double theta, int64_t positions)
    : head_dim_(head_dim), theta_(theta) {
  TFM_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope: the head size (d_model/n_head) must be even, found ",
            head_dim);
  TFM_CHECK(theta > 1.0, "rope: theta must be > 1, found ", theta);
  build(std::max<int64_t>(positions, 1));
}

void RotaryEmbedding::build(int64_t positions) {
  cos_ = Tensor::empty({positions, head_dim_ / 2});
  sin_ = Tensor::empty({positions, head_dim_ / 2});
  rope_table(cos_.data(), sin_.data(), positions, head_dim_, theta_);
}

Variable RotaryEmbedding::apply(const Variable& x, int64_t n_heads, int64_t pos_offset) {
  const int64_t needed = pos_offset + x.dim(1);
  if (needed > positions()) build(std::max(needed, 2 * positions()));
  return rope(x, cos_, sin_, n_heads, pos_offset);
}

}  // namespace tfm
