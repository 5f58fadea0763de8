#include "autograd/ops/attention.h"

#include "core/kernels/attention.h"
#include "core/precision.h"

namespace tfm {

Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const AttentionOptions& opt) {
  TFM_CHECK(q.shape().ndim() == 3 && k.shape().ndim() == 3 && v.shape().ndim() == 3,
            "attention: q, k, v must be [batch, len, d_model], found ", q.shape(), ", ", k.shape(), ", ", v.shape());
  TFM_CHECK(k.shape() == v.shape(), "attention: k ", k.shape(), " and v ", v.shape(), " differ");
  const int64_t kv_heads = opt.n_kv_head > 0 ? opt.n_kv_head : opt.n_head;
  TFM_CHECK(q.dim(0) == k.dim(0) && q.dim(2) * kv_heads == k.dim(2) * opt.n_head, "attention: q ", q.shape(),
            " and k ", k.shape(), " differ in batch or d_model (", opt.n_head, " query heads, ", kv_heads,
            " key/value heads)");
  return scaled_dot_product_attention({q, 0}, {k, 0}, {v, 0}, q.dim(2), opt);
}

Variable scaled_dot_product_attention(const AttentionInput& qi, const AttentionInput& ki, const AttentionInput& vi,
                                      int64_t d_model, const AttentionOptions& opt) {
  const Variable &q = qi.source, &k = ki.source, &v = vi.source;
  TFM_CHECK(opt.n_head > 0 && d_model % opt.n_head == 0, "attention: d_model ", d_model,
            " is not divisible by n_head ", opt.n_head);
  const int64_t kv_heads = opt.n_kv_head > 0 ? opt.n_kv_head : opt.n_head;
  TFM_CHECK(opt.n_kv_head >= 0 && opt.n_head % kv_heads == 0, "attention: n_kv_head = ", opt.n_kv_head,
            " does not divide n_head = ", opt.n_head);
  const int64_t kv_width = d_model / opt.n_head * kv_heads;
  for (const AttentionInput* in : {&qi, &ki, &vi}) {
    const int64_t width = in == &qi ? d_model : kv_width;
    TFM_CHECK(in->source.shape().ndim() == 3 && in->column >= 0 && in->column + width <= in->source.dim(2),
              "attention: columns [", in->column, ", ", in->column + width, ") do not fit in ", in->source.shape());
  }
  TFM_CHECK(k.dim(0) == q.dim(0) && v.dim(0) == q.dim(0) && k.dim(1) == v.dim(1), "attention: q ", q.shape(),
            ", k ", k.shape(), " and v ", v.shape(), " differ in batch or key length");
  AttentionDims d;
  d.batch = q.dim(0);
  d.n_head = opt.n_head;
  d.n_kv_head = kv_heads;
  d.q_len = q.dim(1);
  d.kv_len = k.dim(1);
  d.head_dim = d_model / opt.n_head;
  d.ldq = q.dim(2);
  d.ldk = k.dim(2);
  d.ldv = v.dim(2);
  d.ldo = d_model;
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
  const bool bf16_out = opt.bf16_output && bf16_compute();
  Tensor out = Tensor::empty({d.batch, d.q_len, d_model}, bf16_out ? DType::BF16 : DType::F32);
  const bool needs_grad = grad_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad());
  const int64_t p_bytes = plan.p_numel(d) * static_cast<int64_t>(sizeof(float));
  const bool keep_p = opt.recompute == AttentionOptions::Recompute::Never ||
                      (opt.recompute == AttentionOptions::Recompute::Auto && p_bytes <= kAttentionStoreLimitBytes);
  // P is materialised when the caller wants the weights or the backward pass keeps it.
  Tensor P;
  if (opt.weights != nullptr || (needs_grad && keep_p)) P = Tensor::empty({plan.p_numel(d)});
  const int64_t cq = qi.column, ck = ki.column, cv = vi.column;
  float* p = P.defined() ? P.data() : nullptr;
  const float *Q = q.data().data() + cq, *K = k.data().data() + ck, *V = v.data().data() + cv;
  if (bf16_out)
    attention_forward(static_cast<bf16_t*>(out.raw_data()), p, Q, K, V, d, plan);
  else
    attention_forward(out.data(), p, Q, K, V, d, plan);
  if (opt.weights != nullptr) {
    *opt.weights = Tensor::empty({d.batch, d.n_head, d.q_len, d.kv_len});
    attention_dense_weights(opt.weights->data(), P.data(), d, plan);
    if (!keep_p) P = Tensor();  // returned, but not kept for the backward pass
  }
  Tensor padding = opt.key_padding;  // keeps the mask alive for the backward pass
  return make_result(out, {&q, &k, &v}, "attention", [q, k, v, cq, ck, cv, P, d, plan, padding](const Tensor& g) {
    float* dq = grad_ptr(q);
    float* dk = grad_ptr(k);
    float* dv = grad_ptr(v);
    attention_backward(dq ? dq + cq : nullptr, dk ? dk + ck : nullptr, dv ? dv + cv : nullptr, g.data(), P.defined() ? P.data() : nullptr,
                       q.data().data() + cq, k.data().data() + ck, v.data().data() + cv, d, plan);
  });
}

}  // namespace tfm
