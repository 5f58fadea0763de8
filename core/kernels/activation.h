#pragma once
// Activations, forward beside backward. Backward functions accumulate (dx += ...).
#include <cstdint>

namespace tfm {

// GELU, exact form x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (PyTorch's nn.GELU() default).
void gelu_forward(float* out, const float* x, int64_t n);
void gelu_backward(float* dx, const float* dout, const float* x, int64_t n);
// GELU, tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hendrycks & Gimpel 2016).
void gelu_tanh_forward(float* out, const float* x, int64_t n);
void gelu_tanh_backward(float* dx, const float* dout, const float* x, int64_t n);
void relu_forward(float* out, const float* x, int64_t n);
void relu_backward(float* dx, const float* dout, const float* x, int64_t n);
void tanh_forward(float* out, const float* x, int64_t n);
void tanh_backward(float* dx, const float* dout, const float* out, int64_t n);  // uses the output
void sigmoid_forward(float* out, const float* x, int64_t n);
void sigmoid_backward(float* dx, const float* dout, const float* out, int64_t n);  // uses the output

}  // namespace tfm
