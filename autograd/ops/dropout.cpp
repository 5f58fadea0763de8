#include "autograd/ops/dropout.h"

#include "core/kernels/dropout.h"

namespace tfm {

Variable dropout(const Variable& x, float p, bool training, Generator& gen) {
  TFM_CHECK(p >= 0.0f && p < 1.0f, "dropout: probability must be in [0, 1), found ", p);
  if (!training || p == 0.0f) return x;
  const int64_t n = x.numel();
  const uint64_t seed = gen.seed(), first = gen.reserve(dropout_blocks(n));
  Tensor out = Tensor::empty(x.shape());
  dropout_forward(out.data(), x.data().data(), n, p, seed, first);
  return make_result(out, {&x}, "dropout", [x, p, seed, first, n](const Tensor& g) {
    dropout_backward(grad_ptr(x), g.data(), n, p, seed, first);
  });
}

}  // namespace tfm
