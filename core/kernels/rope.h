#pragma once
// Rotary position embedding (Su et al. 2021, RoFormer), in the "rotate halves"
// convention of GPT-NeoX and of Hugging Face's LLaMA (not the interleaved pairs
// of the paper and of Meta's original LLaMA code): a head of even size dh is
// split into halves, and for i < dh/2 the pair (x_i, x_{i+dh/2}) at position p
// is rotated by the angle p·θ^(−2i/dh):
//   y_i        = x_i·cos − x_{i+dh/2}·sin
//   y_{i+dh/2} = x_{i+dh/2}·cos + x_i·sin
#include <cstdint>

namespace tfm {

// cos and sin [positions, head_dim/2] of the angles p·θ^(−2i/head_dim), computed in
// double and rounded to float.
void rope_table(float* cos, float* sin, int64_t positions, int64_t head_dim, double theta);

// x and out: batch·len rows of ld floats (row t of a sequence at position pos_offset + t);
// rotates heads 0 … n_heads−1 (columns 0 … n_heads·head_dim − 1), leaves the other columns
// of out alone. cos/sin: a table of at least pos_offset + len positions.
void rope_forward(float* out, const float* x, const float* cos, const float* sin, int64_t batch, int64_t len,
                  int64_t ld, int64_t n_heads, int64_t head_dim, int64_t pos_offset);
// The transpose (rotation by −angle), accumulated into the same columns of dx.
void rope_backward(float* dx, const float* dout, const float* cos, const float* sin, int64_t batch, int64_t len,
                   int64_t ld, int64_t n_heads, int64_t head_dim, int64_t pos_offset);

}  // namespace tfm
