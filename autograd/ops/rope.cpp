#include "autograd/ops/rope.h"

#include <algorithm>

#include "core/kernels/rope.h"

namespace tfm {

Variable rope(const Variable& x, const Tensor& cos, const Tensor& sin, int64_t n_heads, int64_t pos_offset) {
  TFM_CHECK(x.shape().ndim() == 3, "rope: input must be [batch, len, width], found ", x.shape());
  TFM_CHECK(cos.ndim() == 2 && cos.shape() == sin.shape(), "rope: cos ", cos.shape(), " and sin ", sin.shape(),
            " must be equal [positions, head_dim/2]");
  const int64_t B = x.dim(0), T = x.dim(1), W = x.dim(2), head_dim = 2 * cos.dim(1);
  TFM_CHECK(n_heads >= 0 && n_heads * head_dim <= W, "rope: ", n_heads, " heads of ", head_dim,
            " columns do not fit in width ", W);
  TFM_CHECK(pos_offset >= 0 && pos_offset + T <= cos.dim(0), "rope: positions ", pos_offset, " … ",
            pos_offset + T - 1, " exceed the table's ", cos.dim(0));
  const int64_t rotated = n_heads * head_dim;
  Tensor out = Tensor::empty(x.shape());
  const float* src = x.data().data();
  float* dst = out.data();
  if (rotated < W)
    for (int64_t r = 0; r < B * T; ++r) std::copy(src + r * W + rotated, src + (r + 1) * W, dst + r * W + rotated);
  rope_forward(dst, src, cos.data(), sin.data(), B, T, W, n_heads, head_dim, pos_offset);
  return make_result(out, {&x}, "rope", [x, cos, sin, B, T, W, n_heads, head_dim, rotated, pos_offset](const Tensor& g) {
    float* dx = grad_ptr(x);
    if (!dx) return;
    const float* gd = g.data();
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t c = rotated; c < W; ++c) dx[r * W + c] += gd[r * W + c];
    rope_backward(dx, gd, cos.data(), sin.data(), B, T, W, n_heads, head_dim, pos_offset);
  });
}

}  // namespace tfm
