#pragma once
// GEMMs through oneDNN. Row-major: C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C,
// op(X) = Xᵀ when trans_x. Two backends, picked per shape: oneDNN's sgemm
// (no primitive, fastest for large square problems) and the matmul primitive
// (created once per shape and cached, then reused).
#include <cstdint>

#include "core/kernels/convert.h"

namespace tfm {

enum class GemmBackend { Auto, Sgemm, Primitive };

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          GemmBackend backend = GemmBackend::Auto);

// batch independent GEMMs; matrix i starts at A + i*stride_a (likewise B, C).
void gemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                  int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                  GemmBackend backend = GemmBackend::Auto);

// Linear layer, PyTorch layout: out[rows, n_out] = x[rows, n_in] · weightᵀ + bias,
// weight[n_out, n_in], bias[n_out] or null.
void linear_forward(float* out, const float* x, const float* weight, const float* bias, int64_t rows,
                    int64_t n_in, int64_t n_out);
// Accumulates: dx += dout · weight, dweight += doutᵀ · x, dbias += Σ_rows dout.
// Any of dx, dweight, dbias may be null (not needed).
void linear_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x,
                     const float* weight, int64_t rows, int64_t n_in, int64_t n_out);

// The same linear layer with bf16 operands (fp32 accumulation, fp32 out, dx, dweight
// and dbias): x_bf16[rows, n_in], weight_bf16[n_out, n_in]. The backward rounds dout
// to bf16 for the two GEMMs; dbias sums the fp32 dout.
void linear_forward_bf16(float* out, const bf16_t* x, const bf16_t* weight, const float* bias, int64_t rows,
                         int64_t n_in, int64_t n_out);
void linear_backward_bf16(float* dx, float* dweight, float* dbias, const float* dout, const bf16_t* x,
                          const bf16_t* weight, int64_t rows, int64_t n_in, int64_t n_out);

// bf16 GEMMs: A and B in bf16, every product accumulated in fp32, C in fp32 (beta
// applied in fp32) or in bf16 (C read, scaled and accumulated in fp32, rounded once
// at the end, to nearest even). Same row-major convention as gemm. Always oneDNN's
// matmul primitive, created once per shape and cached; safe to call from the
// threads of a parallel region (each then runs single-threaded). Fast only where
// cpu_has_avx512_bf16(): elsewhere oneDNN emulates bf16, several times slower, or
// (without AVX-512) throws.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const bf16_t* A,
               int64_t lda, const bf16_t* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const bf16_t* A,
               int64_t lda, const bf16_t* B, int64_t ldb, float beta, bf16_t* C, int64_t ldc);
void gemm_batched_bf16(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const bf16_t* A, int64_t lda, int64_t stride_a, const bf16_t* B, int64_t ldb,
                       int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c);

// True where the CPU has AVX512-BF16 (CPUID leaf 7, sub-leaf 1, EAX bit 5).
bool cpu_has_avx512_bf16();

// Number of matmul primitives created so far (tests check steady state creates none).
int64_t gemm_primitives_created();

}  // namespace tfm
