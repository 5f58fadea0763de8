#pragma once
// Elementwise arithmetic with broadcasting over leading dimensions: an operand
// b of `inner` elements is repeated over `outer` rows (bias add is the case
// inner = features). Backward functions accumulate (dx += ...).
#include <cstdint>

namespace tfm {

// out[o, i] = a[o, i] + b[i]   (b_outer = 1), or a + b elementwise (same size).
void add_forward(float* out, const float* a, const float* b, int64_t outer, int64_t inner, bool broadcast_b);
// da += dout; db += dout (summed over outer rows when broadcast).
void add_backward(float* da, float* db, const float* dout, int64_t outer, int64_t inner, bool broadcast_b);
void mul_forward(float* out, const float* a, const float* b, int64_t outer, int64_t inner, bool broadcast_b);
void mul_backward(float* da, float* db, const float* dout, const float* a, const float* b, int64_t outer,
                  int64_t inner, bool broadcast_b);
// out = alpha * x
void scale_forward(float* out, const float* x, float alpha, int64_t n);
void scale_backward(float* dx, const float* dout, float alpha, int64_t n);
// y += alpha * x
void axpy(float* y, const float* x, float alpha, int64_t n);
// Σ_o x[o, i] accumulated into out[i], rows split into a fixed number of chunks
// so the result does not depend on the thread count.
void sum_rows_accumulate(float* out, const float* x, int64_t outer, int64_t inner);

}  // namespace tfm
