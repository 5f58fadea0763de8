#pragma once
// Cross-entropy over logits, fused with log-softmax, PyTorch semantics
// (nn.CrossEntropyLoss with ignore_index and label_smoothing ε): per row with
// target y, loss = (1−ε)·(−log p_y) + ε·mean_j(−log p_j); rows whose target is
// ignore_index contribute nothing; the mean is over the rows not ignored.
// The z-loss of PaLM (Chowdhery et al. 2022, sec. 5), z·(log Z)² per counted row
// with log Z the row's log-sum-exp, is the caller's to add from lse_sq_sum; its
// gradient is fused into the backward.
#include <cstdint>

namespace tfm {

struct CrossEntropyResult {
  double loss_sum = 0.0;  // Σ over counted rows
  int64_t count = 0;      // rows not ignored
  double lse_sq_sum = 0.0;  // Σ over counted rows of (log Z)², for the z-loss
};

// Writes the log-sum-exp of each row to lse[rows] (needed by the backward) and,
// when row_loss is not null, each row's cross-entropy (0 for ignored rows).
// Throws tfm::Error on a target outside [0, vocab) that is not ignore_index.
CrossEntropyResult cross_entropy_forward(float* lse, float* row_loss, const float* logits, const int32_t* targets,
                                         int64_t rows, int64_t vocab, int32_t ignore_index, float label_smoothing);
// dlogits[r, j] += dloss_r · ((1 + 2·z·lse_r)·softmax_j − q_j), q = (1−ε)·onehot(y) + ε/V,
// where dloss_r = grad_scale (the same for every counted row, e.g. 1/count for a mean) and
// z = z_loss: the gradient of the row's loss plus z·lse_r² (z 0: the cross-entropy's alone).
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            int64_t rows, int64_t vocab, int32_t ignore_index, float label_smoothing,
                            float grad_scale, float z_loss = 0.0f);

}  // namespace tfm
