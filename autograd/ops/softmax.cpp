#include "autograd/ops/softmax.h"

#include "core/kernels/softmax.h"

namespace tfm {

Variable softmax(const Variable& x) {
  const int64_t rows = x.shape().rows(), cols = x.shape().last();
  Tensor out = Tensor::empty(x.shape());
  softmax_forward(out.data(), x.data().data(), rows, cols);
  return make_result(out, {&x}, "softmax", [x, out, rows, cols](const Tensor& g) {
    softmax_backward(grad_ptr(x), g.data(), out.data(), rows, cols);
  });
}

Variable log_softmax(const Variable& x) {
  const int64_t rows = x.shape().rows(), cols = x.shape().last();
  Tensor out = Tensor::empty(x.shape());
  log_softmax_forward(out.data(), x.data().data(), rows, cols);
  return make_result(out, {&x}, "log_softmax", [x, out, rows, cols](const Tensor& g) {
    log_softmax_backward(grad_ptr(x), g.data(), out.data(), rows, cols);
  });
}

}  // namespace tfm
