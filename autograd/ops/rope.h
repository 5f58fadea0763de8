#pragma once
#include "autograd/variable.h"

namespace tfm {

// Rotary position embedding (core/kernels/rope.h: rotate-halves convention) of
// x [batch, len, width]: heads 0 … n_heads−1 of head_dim = 2·cos.dim(1) columns
// each are rotated, position pos_offset + t for row t; the other columns pass
// through unchanged. cos, sin: F32 [positions, head_dim/2] (rope_table).
Variable rope(const Variable& x, const Tensor& cos, const Tensor& sin, int64_t n_heads, int64_t pos_offset = 0);

}  // namespace tfm
