#pragma once
// Row-wise softmax and log-softmax over the last dimension, numerically stable
// (the row maximum is subtracted before exponentiating). Backward accumulates.
#include <cstdint>

namespace tfm {

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols);
// dx += out ⊙ (dout − Σ_j dout_j·out_j)
void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols);
void log_softmax_forward(float* out, const float* x, int64_t rows, int64_t cols);
// dx += dout − exp(out)·Σ_j dout_j
void log_softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols);

}  // namespace tfm

namespace tfm {

// Adaptive softmax log-probabilities (Grave et al. 2017; PyTorch's
// AdaptiveLogSoftmaxWithLoss.log_prob), composed from log-softmaxes: head[rows,
// shortlist + n_clusters] and clusters[i][rows, sizes[i]] give out[rows,
// shortlist + Σ sizes]: out[:, :shortlist] = head[:, :shortlist], then cluster i's
// columns clusters[i] + head[:, shortlist + i] (the cluster's log-probability).
void adaptive_log_prob_forward(float* out, const float* head, const float* const* clusters, const int64_t* sizes,
                               int64_t n_clusters, int64_t shortlist, int64_t rows);
// dhead[:, :shortlist] += dout[:, :shortlist]; dhead[:, shortlist + i] += Σ over
// cluster i's columns of dout; dclusters[i] += dout[:, cluster i's columns].
// dhead and any dclusters[i] may be null (not needed).
void adaptive_log_prob_backward(float* dhead, float* const* dclusters, const float* dout, const int64_t* sizes,
                                int64_t n_clusters, int64_t shortlist, int64_t rows);

}  // namespace tfm
