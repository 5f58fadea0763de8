#pragma once
#include "autograd/variable.h"

namespace tfm {

// ids: I32 tensor of any shape; weight [vocab, dim] → [ids.shape..., dim].
Variable embedding(const Tensor& ids, const Variable& weight);

}  // namespace tfm
