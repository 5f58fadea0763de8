#include "autograd/ops/embedding.h"

#include "core/kernels/embedding.h"

namespace tfm {

Variable embedding(const Tensor& ids, const Variable& weight) {
  TFM_CHECK(ids.dtype() == DType::I32, "embedding: ids must be I32, found ", dtype_name(ids.dtype()));
  TFM_CHECK(weight.shape().ndim() == 2, "embedding: weight must be [vocab, dim], found ", weight.shape());
  TFM_CHECK(ids.ndim() < Shape::kMaxDims, "embedding: too many id dimensions: ", ids.shape());
  const int64_t vocab = weight.dim(0), dim = weight.dim(1), n = ids.numel();
  int64_t dims[Shape::kMaxDims];
  for (int i = 0; i < ids.ndim(); ++i) dims[i] = ids.shape()[i];
  dims[ids.ndim()] = dim;
  Tensor out = Tensor::empty(Shape(std::span<const int64_t>(dims, ids.ndim() + 1)));
  embedding_forward(out.data(), ids.data_i32(), weight.data().data(), n, vocab, dim);
  return make_result(out, {&weight}, "embedding", [ids, weight, n, dim](const Tensor& g) {
    embedding_backward(grad_ptr(weight), g.data(), ids.data_i32(), n, dim);
  });
}

}  // namespace tfm
