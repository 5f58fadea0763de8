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

namespace tfm {

Variable adaptive_log_prob(const Variable& head, const std::vector<Variable>& clusters) {
  const int64_t n = static_cast<int64_t>(clusters.size());
  TFM_CHECK(head.shape().ndim() == 2 && head.dim(1) > n, "adaptive_log_prob: the head must be [rows, shortlist + ",
            n, " clusters] with a shortlist, found ", head.shape());
  const int64_t rows = head.dim(0), shortlist = head.dim(1) - n;
  std::vector<int64_t> sizes;
  std::vector<const float*> data;
  std::vector<const Variable*> inputs{&head};
  int64_t vocab = shortlist;
  for (const Variable& c : clusters) {
    TFM_CHECK(c.shape().ndim() == 2 && c.dim(0) == rows && c.dim(1) > 0, "adaptive_log_prob: a cluster must be [",
              rows, ", size > 0], found ", c.shape());
    sizes.push_back(c.dim(1));
    data.push_back(c.data().data());
    inputs.push_back(&c);
    vocab += c.dim(1);
  }
  Tensor out = Tensor::empty({rows, vocab});
  adaptive_log_prob_forward(out.data(), head.data().data(), data.data(), sizes.data(), n, shortlist, rows);
  return make_result(out, inputs, "adaptive_log_prob", [head, clusters, sizes, shortlist, rows](const Tensor& g) {
    std::vector<float*> dclusters;
    for (const Variable& c : clusters) dclusters.push_back(grad_ptr(c));
    adaptive_log_prob_backward(grad_ptr(head), dclusters.data(), g.data(), sizes.data(),
                               static_cast<int64_t>(sizes.size()), shortlist, rows);
  });
}

}  // namespace tfm
