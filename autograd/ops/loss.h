#pragma once
#include "autograd/variable.h"

namespace tfm {

struct CrossEntropyOptions {
  int32_t ignore_index = -100;  // PyTorch's default
  float label_smoothing = 0.0f;
};

// Mean cross-entropy of logits [..., vocab] against I32 targets [...] over the
// targets that are not ignore_index (PyTorch nn.CrossEntropyLoss semantics).
// Returns [1]; 0 when every target is ignored. *count (optional) receives the
// number of targets counted.
Variable cross_entropy(const Variable& logits, const Tensor& targets, const CrossEntropyOptions& options = {},
                       int64_t* count = nullptr);

}  // namespace tfm
