#pragma once
// The cos/sin table of rotary position embeddings (core/kernels/rope.h), made
// once for `positions` positions and grown (doubling) only when a longer
// sequence comes: steady-state training and decoding allocate no table.
#include "autograd/ops/rope.h"
#include "core/tensor.h"

namespace tfm {

class RotaryEmbedding {
 public:
  RotaryEmbedding(int64_t head_dim, double theta, int64_t positions);
  // x [batch, len, width]: rotates heads 0 … n_heads−1 at positions pos_offset + t.
  Variable apply(const Variable& x, int64_t n_heads, int64_t pos_offset = 0);
  int64_t head_dim() const { return head_dim_; }
  double theta() const { return theta_; }
  int64_t positions() const { return cos_.dim(0); }

 private:
  void build(int64_t positions);
  int64_t head_dim_;
  double theta_;
  Tensor cos_, sin_;  // [positions, head_dim/2]
};

}  // namespace tfm
