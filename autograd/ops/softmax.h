#pragma once
#include <vector>

#include "autograd/variable.h"

namespace tfm {

Variable softmax(const Variable& x);      // over the last dimension
Variable log_softmax(const Variable& x);  // over the last dimension
// Adaptive softmax log-probabilities over the whole vocabulary (Grave et al. 2017;
// PyTorch's AdaptiveLogSoftmaxWithLoss.log_prob) from the log-softmax of the head,
// head_log_prob [rows, shortlist + n_clusters], and of each cluster,
// cluster_log_probs[i] [rows, size_i]: [rows, shortlist + Σ size_i], the head's
// shortlist columns, then cluster i's log-probabilities plus the head's column shortlist + i.
Variable adaptive_log_prob(const Variable& head_log_prob, const std::vector<Variable>& cluster_log_probs);

}  // namespace tfm
