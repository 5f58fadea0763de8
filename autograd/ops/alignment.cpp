#include "autograd/ops/alignment.h"

#include <cstring>

namespace tfm {

Variable align(const Variable& scores, const AlignOptions& o, const Variable& centres) {
  TFM_CHECK(scores.shape().ndim() == 3, "align: scores must be [batch, q_len, src_len], found ", scores.shape());
  AlignDims d;
  d.batch = scores.dim(0), d.q_len = scores.dim(1), d.src_len = scores.dim(2);
  d.mode = o.mode, d.window = o.window, d.q_offset = o.q_offset;
  if (o.key_padding.defined()) {
    TFM_CHECK(o.key_padding.dtype() == DType::I32 && o.key_padding.shape() == Shape({d.batch, d.src_len}),
              "align: key_padding must be I32 [", d.batch, ", ", d.src_len, "], found ",
              dtype_name(o.key_padding.dtype()), " ", o.key_padding.shape());
    d.key_padding = o.key_padding.data_i32();
  }
  const bool local_p = o.mode == AlignMode::LocalP;
  TFM_CHECK(local_p == centres.defined(), "align: predicted centres go with local-p attention, and only with it");
  if (local_p)
    TFM_CHECK(centres.shape() == Shape({d.batch, d.q_len}), "align: centres must be [", d.batch, ", ", d.q_len,
              "], found ", centres.shape());
  Tensor A = Tensor::empty(scores.shape()), soft = Tensor::empty(scores.shape());
  const float* c = local_p ? centres.data().data() : nullptr;
  align_forward(A.data(), soft.data(), scores.data().data(), c, d);
  Tensor padding = o.key_padding;  // alive for the backward pass
  return make_result(A, {&scores, &centres}, "align", [scores, centres, soft, d, padding](const Tensor& g) {
    const float* c = centres.defined() ? centres.data().data() : nullptr;
    float* dc = centres.defined() ? grad_ptr(centres) : nullptr;
    align_backward(grad_ptr(scores), dc, g.data(), soft.data(), c, d);
  });
}

Variable additive_scores(const Variable& hp, const Variable& sp, const Variable& v) {
  TFM_CHECK(hp.shape().ndim() == 3 && sp.shape().ndim() == 3 && v.shape().ndim() == 1 && hp.dim(0) == sp.dim(0) &&
                hp.dim(2) == sp.dim(2) && v.dim(0) == hp.dim(2),
            "additive_scores: expected hp [B, T, K], sp [B, S, K], v [K], found ", hp.shape(), ", ", sp.shape(), ", ",
            v.shape());
  const int64_t B = hp.dim(0), T = hp.dim(1), S = sp.dim(1), K = hp.dim(2);
  Tensor E = Tensor::empty({B, T, S});
  additive_scores_forward(E.data(), hp.data().data(), sp.data().data(), v.data().data(), B, T, S, K);
  return make_result(E, {&hp, &sp, &v}, "additive_scores", [hp, sp, v, B, T, S, K](const Tensor& g) {
    additive_scores_backward(grad_ptr(hp), grad_ptr(sp), grad_ptr(v), g.data(), hp.data().data(), sp.data().data(),
                             v.data().data(), B, T, S, K);
  });
}

Variable time_step(const Variable& x, int64_t t) {
  TFM_CHECK(x.shape().ndim() == 3 && t >= 0 && t < x.dim(1), "time_step: step ", t, " of ", x.shape());
  const int64_t B = x.dim(0), T = x.dim(1), D = x.dim(2);
  Tensor out = Tensor::empty({B, D});
  for (int64_t b = 0; b < B; ++b) std::memcpy(out.data() + b * D, x.data().data() + (b * T + t) * D, D * sizeof(float));
  return make_result(out, {&x}, "time_step", [x, t, B, T, D](const Tensor& g) {
    float* dx = grad_ptr(x);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < D; ++j) dx[(b * T + t) * D + j] += g.data()[b * D + j];
  });
}

Variable stack_steps(const std::vector<Variable>& steps) {
  TFM_CHECK(!steps.empty(), "stack_steps: no steps");
  const Shape s0 = steps[0].shape();
  TFM_CHECK(s0.ndim() == 2, "stack_steps: steps must be [batch, d], found ", s0);
  for (const Variable& s : steps) TFM_CHECK(s.shape() == s0, "stack_steps: step shapes differ: ", s0, " and ", s.shape());
  const int64_t B = s0[0], D = s0[1], T = static_cast<int64_t>(steps.size());
  Tensor out = Tensor::empty({B, T, D});
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(out.data() + (b * T + t) * D, steps[t].data().data() + b * D, D * sizeof(float));
  std::vector<const Variable*> inputs;
  for (const Variable& s : steps) inputs.push_back(&s);
  return make_result(out, inputs, "stack_steps", [steps, B, T, D](const Tensor& g) {
    for (int64_t t = 0; t < T; ++t) {
      float* d = grad_ptr(steps[t]);
      if (!d) continue;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < D; ++j) d[b * D + j] += g.data()[(b * T + t) * D + j];
    }
  });
}

}  // namespace tfm
