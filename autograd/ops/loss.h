#pragma once
#include "autograd/variable.h"

namespace tfm {

// The parts of one cross_entropy call's value, each a mean over the counted targets.
struct CrossEntropyTerms {
  double cross_entropy = 0.0;  // the (label-smoothed) cross-entropy
  double z_loss = 0.0;         // z_loss · mean (log Z)²; 0 when z_loss is 0
  int64_t count = 0;           // targets counted
};

struct CrossEntropyOptions {
  int32_t ignore_index = -100;  // PyTorch's default
  float label_smoothing = 0.0f;
  // PaLM's auxiliary z-loss (Chowdhery et al. 2022, sec. 5): adds z_loss · mean (log Z)² over
  // the counted targets, log Z the log-sum-exp of a row's logits, which keeps it near 0.
  float z_loss = 0.0f;
  CrossEntropyTerms* terms = nullptr;  // when not null, receives the value's parts
};

// Mean cross-entropy of logits [..., vocab] against I32 targets [...] over the
// targets that are not ignore_index (PyTorch nn.CrossEntropyLoss semantics),
// plus the z-loss when options.z_loss > 0. Returns [1]; 0 when every target is
// ignored. *count (optional) receives the number of targets counted.
Variable cross_entropy(const Variable& logits, const Tensor& targets, const CrossEntropyOptions& options = {},
                       int64_t* count = nullptr);

}  // namespace tfm
