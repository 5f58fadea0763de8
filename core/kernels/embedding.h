#pragma once
// Embedding lookup and its scatter-add backward.
#include <cstdint>

namespace tfm {

// out[i, :] = weight[ids[i], :]; throws tfm::Error on an id outside [0, vocab).
void embedding_forward(float* out, const int32_t* ids, const float* weight, int64_t n, int64_t vocab, int64_t dim);
// dweight[ids[i], :] += dout[i, :]. Threads own disjoint column ranges, so the
// sum order per element is fixed (deterministic, no atomics).
void embedding_backward(float* dweight, const float* dout, const int32_t* ids, int64_t n, int64_t dim);

}  // namespace tfm
