#include "autograd/ops/attention.h"

#include "core/kernels/attention.h"

namespace tfm {

Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const AttentionOptions& opt) {
  TFM_CHECK(q.shape().ndim() == 3 && k.shape().ndim() == 3 && v.shape().ndim() == 3,
            "attention: q, k, v must be [batch, len, d_model], found ", q.shape(), ", ", k.shape(), ", ", v.shape());
  TFM_CHECK(k.shape() == v.shape(), "attention: k ", k.shape(), " and v ", v.shape(), " differ");
  TFM_CHECK(q.dim(0) == k.dim(0) && q.dim(2) == k.dim(2), "attention: q ", q.shape(), " and k ", k.shape(),
            " differ in batch or d_model");
  const int64_t d_model = q.dim(2);
  TFM_CHECK(opt.n_head > 0 && d_model % opt.n_head == 0, "attention: d_model ", d_model,
            " is not divisible by n_head ", opt.n_head);
  AttentionDims d;
  d.batch = q.dim(0);
  d.n_head = opt.n_head;
  d.q_len = q.dim(1);
  d.kv_len = k.dim(1);
  d.head_dim = d_model / opt.n_head;
  d.ldq = d.ldk = d.ldv = d.ldo = d_model;
  d.causal = opt.causal;
  d.window = opt.window;
  d.q_offset = opt.q_offset;
  if (opt.key_padding.defined()) {
    TFM_CHECK(opt.key_padding.dtype() == DType::I32 && opt.key_padding.shape() == Shape({d.batch, d.kv_len}),
              "attention: key_padding must be I32 [", d.batch, ", ", d.kv_len, "], found ",
              dtype_name(opt.key_padding.dtype()), " ", opt.key_padding.shape());
    d.key_padding = opt.key_padding.data_i32();
  }
  if (opt.training && opt.dropout > 0.0f) {
    TFM_CHECK(opt.generator != nullptr, "attention: dropout needs a generator");
    d.dropout_p = opt.dropout;
    d.dropout_seed = opt.generator->seed();
    d.dropout_first_block = opt.generator->reserve(attention_dropout_blocks(d));
  }
  const AttentionPlan plan = attention_plan(d);
  Tensor out = Tensor::empty(q.shape());
  Tensor P = Tensor::empty({plan.p_numel(d)});
  attention_forward(out.data(), P.data(), q.data().data(), k.data().data(), v.data().data(), d, plan);
  if (opt.weights != nullptr) {
    *opt.weights = Tensor::empty({d.batch, d.n_head, d.q_len, d.kv_len});
    attention_dense_weights(opt.weights->data(), P.data(), d, plan);
  }
  Tensor padding = opt.key_padding;  // keeps the mask alive for the backward pass
  return make_result(out, {&q, &k, &v}, "attention", [q, k, v, P, d, plan, padding](const Tensor& g) {
    attention_backward(grad_ptr(q), grad_ptr(k), grad_ptr(v), g.data(), P.data(), q.data().data(),
                       k.data().data(), v.data().data(), d, plan);
  });
}

}  // namespace tfm
