#include "autograd/ops/linear.h"

#include "core/kernels/matmul.h"

namespace tfm {

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  TFM_CHECK(weight.shape().ndim() == 2, "linear: weight must be 2-D [out, in], found ", weight.shape());
  const int64_t n_out = weight.dim(0), n_in = weight.dim(1);
  TFM_CHECK(x.shape().ndim() >= 1 && x.shape().last() == n_in, "linear: input ", x.shape(),
            " does not match weight ", weight.shape(), " (last dim must be ", n_in, ")");
  if (bias.defined())
    TFM_CHECK(bias.shape() == Shape({n_out}), "linear: bias ", bias.shape(), " does not match weight ",
              weight.shape(), " (expected [", n_out, "])");
  Shape out_shape = x.shape();
  out_shape[out_shape.ndim() - 1] = n_out;
  const int64_t rows = x.shape().rows();
  Tensor out = Tensor::empty(out_shape);
  linear_forward(out.data(), x.data().data(), weight.data().data(), bias.defined() ? bias.data().data() : nullptr,
                 rows, n_in, n_out);
  return make_result(out, {&x, &weight, &bias}, "linear", [x, weight, bias, rows, n_in, n_out](const Tensor& g) {
    linear_backward(grad_ptr(x), grad_ptr(weight), bias.defined() ? grad_ptr(bias) : nullptr, g.data(),
                    x.data().data(), weight.data().data(), rows, n_in, n_out);
  });
}

Variable matmul(const Variable& a, const Variable& b, bool ta, bool tb) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  TFM_CHECK(as.ndim() >= 2 && bs.ndim() >= 2, "matmul: operands must be at least 2-D, found ", as, " and ", bs);
  const int64_t M = ta ? as.dim(-1) : as.dim(-2), K = ta ? as.dim(-2) : as.dim(-1);
  const int64_t Kb = tb ? bs.dim(-1) : bs.dim(-2), N = tb ? bs.dim(-2) : bs.dim(-1);
  TFM_CHECK(K == Kb, "matmul: inner dimensions differ: ", as, (ta ? "ᵀ" : ""), " vs ", bs, (tb ? "ᵀ" : ""));
  int64_t batch = 1;
  for (int i = 0; i < as.ndim() - 2; ++i) batch *= as[i];
  const bool b_shared = bs.ndim() == 2;
  if (!b_shared) {
    TFM_CHECK(as.ndim() == bs.ndim(), "matmul: batch dimensions differ: ", as, " vs ", bs);
    for (int i = 0; i < as.ndim() - 2; ++i)
      TFM_CHECK(as[i] == bs[i], "matmul: batch dimensions differ: ", as, " vs ", bs);
  }
  Shape out_shape = as;
  out_shape[as.ndim() - 2] = M;
  out_shape[as.ndim() - 1] = N;
  Tensor out = Tensor::empty(out_shape);
  const int64_t lda = as.dim(-1), ldb = bs.dim(-1);
  const int64_t sa = M * K, sb = b_shared ? 0 : K * N, sc = M * N;
  if (b_shared && !ta) {
    // One large GEMM: fold the batch into the rows.
    gemm(false, tb, batch * M, N, K, 1.0f, a.data().data(), lda, b.data().data(), ldb, 0.0f, out.data(), N);
  } else {
    gemm_batched(batch, ta, tb, M, N, K, 1.0f, a.data().data(), lda, sa, b.data().data(), ldb, sb, 0.0f,
                 out.data(), N, sc);
  }
  return make_result(out, {&a, &b}, "matmul", [a, b, ta, tb, M, N, K, batch, b_shared, lda, ldb, sa, sb, sc](const Tensor& g) {
    const float* A = a.data().data();
    const float* B = b.data().data();
    if (float* dA = grad_ptr(a)) {
      // C = op(A)·op(B): dop(A) = G·op(B)ᵀ
      if (!ta)
        gemm_batched(batch, false, !tb, M, K, N, 1.0f, g.data(), N, sc, B, ldb, sb, 1.0f, dA, lda, sa);
      else  // dA = (G·op(B)ᵀ)ᵀ = op(B)·Gᵀ
        gemm_batched(batch, tb, true, K, M, N, 1.0f, B, ldb, sb, g.data(), N, sc, 1.0f, dA, lda, sa);
    }
    if (float* dB = grad_ptr(b)) {
      if (b_shared && !ta) {  // rows folded: one GEMM sums over the batch
        if (!tb)
          gemm(true, false, K, N, batch * M, 1.0f, A, lda, g.data(), N, 1.0f, dB, ldb);
        else
          gemm(true, false, N, K, batch * M, 1.0f, g.data(), N, A, lda, 1.0f, dB, ldb);
      } else if (b_shared) {
        // Sum over the batch: accumulate matrix by matrix, in order (deterministic).
        for (int64_t i = 0; i < batch; ++i) {
          if (!tb)
            gemm(!ta, false, K, N, M, 1.0f, A + i * sa, lda, g.data() + i * sc, N, 1.0f, dB, ldb);
          else
            gemm(true, ta, N, K, M, 1.0f, g.data() + i * sc, N, A + i * sa, lda, 1.0f, dB, ldb);
        }
      } else if (!tb) {  // dop(B) = op(A)ᵀ·G
        gemm_batched(batch, !ta, false, K, N, M, 1.0f, A, lda, sa, g.data(), N, sc, 1.0f, dB, ldb, sb);
      } else {  // dB = Gᵀ·op(A)
        gemm_batched(batch, true, ta, N, K, M, 1.0f, g.data(), N, sc, A, lda, sa, 1.0f, dB, ldb, sb);
      }
    }
  });
}

}  // namespace tfm
