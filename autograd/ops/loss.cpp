#include "autograd/ops/loss.h"

#include <cmath>

#include "core/kernels/loss.h"

namespace tfm {

Variable cross_entropy(const Variable& logits, const Tensor& targets, const CrossEntropyOptions& opt, int64_t* count) {
  TFM_CHECK(targets.dtype() == DType::I32, "cross_entropy: targets must be I32, found ", dtype_name(targets.dtype()));
  const int64_t vocab = logits.shape().last(), rows = logits.shape().rows();
  TFM_CHECK(targets.numel() == rows, "cross_entropy: logits ", logits.shape(), " need ", rows, " targets, found ",
            targets.shape());
  TFM_CHECK(opt.label_smoothing >= 0.0f && opt.label_smoothing <= 1.0f,
            "cross_entropy: label_smoothing must be in [0, 1], found ", opt.label_smoothing);
  TFM_CHECK(opt.z_loss >= 0.0f && std::isfinite(opt.z_loss), "cross_entropy: z_loss must be >= 0, found ", opt.z_loss);
  Tensor lse = Tensor::empty({rows});
  CrossEntropyResult r = cross_entropy_forward(lse.data(), nullptr, logits.data().data(), targets.data_i32(), rows,
                                               vocab, opt.ignore_index, opt.label_smoothing);
  if (count != nullptr) *count = r.count;
  const double n_counted = static_cast<double>(r.count);
  const double ce = r.count > 0 ? r.loss_sum / n_counted : 0.0;
  const double z_term = r.count > 0 && opt.z_loss != 0.0f ? opt.z_loss * (r.lse_sq_sum / n_counted) : 0.0;
  if (opt.terms != nullptr) *opt.terms = {ce, z_term, r.count};
  const float mean_loss = static_cast<float>(opt.z_loss != 0.0f ? ce + z_term : ce);
  const int64_t n = r.count;
  return make_result(Tensor::full({1}, mean_loss), {&logits}, "cross_entropy",
                     [logits, targets, lse, rows, vocab, opt, n](const Tensor& g) {
                       if (n == 0) return;
                       cross_entropy_backward(grad_ptr(logits), logits.data().data(), lse.data(),
                                              targets.data_i32(), rows, vocab, opt.ignore_index,
                                              opt.label_smoothing, g.data()[0] / static_cast<float>(n), opt.z_loss);
                     });
}

}  // namespace tfm
