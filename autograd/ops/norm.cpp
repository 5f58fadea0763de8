#include "autograd/ops/norm.h"

#include "core/kernels/norm.h"

namespace tfm {

Variable layer_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps) {
  const int64_t dim = x.shape().last(), rows = x.shape().rows();
  if (gamma.defined())
    TFM_CHECK(gamma.shape() == Shape({dim}), "layer_norm: weight ", gamma.shape(), " does not match input ",
              x.shape(), " (expected [", dim, "])");
  if (beta.defined())
    TFM_CHECK(beta.shape() == Shape({dim}), "layer_norm: bias ", beta.shape(), " does not match input ",
              x.shape(), " (expected [", dim, "])");
  Tensor out = Tensor::empty(x.shape());
  Tensor stats = Tensor::empty({2, rows});
  float* mean = stats.data();
  float* rstd = mean + rows;
  layernorm_forward(out.data(), mean, rstd, x.data().data(), gamma.defined() ? gamma.data().data() : nullptr,
                    beta.defined() ? beta.data().data() : nullptr, rows, dim, eps);
  return make_result(out, {&x, &gamma, &beta}, "layer_norm", [x, gamma, beta, stats, rows, dim](const Tensor& g) {
    const float* mean = stats.data();
    layernorm_backward(grad_ptr(x), gamma.defined() ? grad_ptr(gamma) : nullptr,
                       beta.defined() ? grad_ptr(beta) : nullptr, g.data(), x.data().data(), mean, mean + rows,
                       gamma.defined() ? gamma.data().data() : nullptr, rows, dim);
  });
}

}  // namespace tfm
