#include "autograd/ops/norm.h"

#include "core/kernels/norm.h"

namespace tfm {
namespace {
void check_affine(const char* op, const Variable& x, const Variable& gamma, const Variable& beta) {
  const int64_t dim = x.shape().last();
  if (gamma.defined())
    TFM_CHECK(gamma.shape() == Shape({dim}), op, ": weight ", gamma.shape(), " does not match input ", x.shape(),
              " (expected [", dim, "])");
  if (beta.defined())
    TFM_CHECK(beta.shape() == Shape({dim}), op, ": bias ", beta.shape(), " does not match input ", x.shape(),
              " (expected [", dim, "])");
}
const float* data_or_null(const Variable& v) { return v.defined() ? v.data().data() : nullptr; }
}  // namespace

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

Variable rms_norm(const Variable& x, const Variable& gamma, const Variable& beta, float eps) {
  check_affine("rms_norm", x, gamma, beta);
  const int64_t dim = x.shape().last(), rows = x.shape().rows();
  Tensor out = Tensor::empty(x.shape());
  Tensor rstd = Tensor::empty({rows});
  rmsnorm_forward(out.data(), rstd.data(), x.data().data(), data_or_null(gamma), data_or_null(beta), rows, dim, eps);
  return make_result(out, {&x, &gamma, &beta}, "rms_norm", [x, gamma, beta, rstd, rows, dim](const Tensor& g) {
    rmsnorm_backward(grad_ptr(x), grad_ptr(gamma), grad_ptr(beta), g.data(), x.data().data(), rstd.data(),
                     data_or_null(gamma), rows, dim);
  });
}

}  // namespace tfm
