#include "core/kernels/loss.h"

#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/tensor.h"
#include "core/kernels/vecmath.h"

namespace tfm {

CrossEntropyResult cross_entropy_forward(float* lse, float* row_loss, const float* logits, const int32_t* targets,
                                         int64_t rows, int64_t vocab, int32_t ignore_index, float label_smoothing) {
  for (int64_t r = 0; r < rows; ++r)
    TFM_CHECK(targets[r] == ignore_index || (targets[r] >= 0 && targets[r] < vocab), "cross_entropy: target ",
              targets[r], " at row ", r, " out of range [0, ", vocab, ")");
  // Per-row losses are computed in the parallel pass; without a caller buffer, in scratch.
  Tensor scratch;
  if (row_loss == nullptr) {
    scratch = Tensor::empty({rows});
    row_loss = scratch.data();
  }
  double loss_sum = 0.0, lse_sq_sum = 0.0;
  int64_t count = 0;
  // Rows are summed in order after the parallel part: deterministic for any thread count.
#pragma omp parallel for schedule(static) if (rows * vocab > (1 << 13))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = logits + r * vocab;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < vocab; ++j) mx = std::max(mx, x[j]);
    float sum = 0.0f, sum_x = 0.0f;
#pragma omp simd reduction(+ : sum, sum_x)
    for (int64_t j = 0; j < vocab; ++j) {
      sum += vec::exp(x[j] - mx);
      sum_x += x[j];
    }
    const float l = mx + std::log(sum);
    lse[r] = l;
    if (targets[r] == ignore_index) {
      row_loss[r] = 0.0f;
    } else {
      const float nll = l - x[targets[r]];
      const float smooth = l - sum_x / static_cast<float>(vocab);  // mean_j(−log p_j)
      row_loss[r] = (1.0f - label_smoothing) * nll + label_smoothing * smooth;
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] == ignore_index) continue;
    ++count;
    loss_sum += row_loss[r];
    lse_sq_sum += static_cast<double>(lse[r]) * lse[r];
  }
  return {loss_sum, count, lse_sq_sum};
}

void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            int64_t rows, int64_t vocab, int32_t ignore_index, float label_smoothing,
                            float grad_scale, float z_loss) {
  const float uniform = label_smoothing / static_cast<float>(vocab);
#pragma omp parallel for schedule(static) if (rows * vocab > (1 << 13))
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] == ignore_index) continue;
    const float* x = logits + r * vocab;
    float* d = dlogits + r * vocab;
    const float l = lse[r];
    const float p_scale = z_loss != 0.0f ? 1.0f + 2.0f * z_loss * l : 1.0f;  // d(z·l²)/dx_j = 2·z·l·softmax_j
#pragma omp simd
    for (int64_t j = 0; j < vocab; ++j) d[j] += grad_scale * (p_scale * vec::exp(x[j] - l) - uniform);
    d[targets[r]] -= grad_scale * (1.0f - label_smoothing);
  }
}

}  // namespace tfm
