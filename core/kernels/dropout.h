#pragma once
// Inverted dropout: out = x·mask/(1−p), mask_i = [u_i ≥ p], u_i from Philox at
// counter (first_block + i/4). The backward regenerates the same mask from
// (seed, first_block) instead of storing it.
#include <cstdint>

namespace tfm {

void dropout_forward(float* out, const float* x, int64_t n, float p, uint64_t seed, uint64_t first_block);
void dropout_backward(float* dx, const float* dout, int64_t n, float p, uint64_t seed, uint64_t first_block);
inline uint64_t dropout_blocks(int64_t n) { return static_cast<uint64_t>((n + 3) / 4); }

}  // namespace tfm
