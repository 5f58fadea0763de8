// core/kernels/matmul: gemm (both backends, every transpose), gemm_batched,
// the primitive cache and the linear layer kernels, against a triple loop in double.
#include <ostream>
#include <string>
#include <vector>

#include "core/kernels/matmul.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// C = alpha·op(A)·op(B) + beta·C, row-major with leading dimensions, in double.
void naive_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = ta ? A[k * lda + i] : A[i * lda + k];
        const double b = tb ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      C[i * ldc + j] = static_cast<float>(alpha * s + beta * static_cast<double>(C[i * ldc + j]));
    }
}

struct GemmCase {
  bool ta, tb;
  GemmBackend backend;
};

std::string case_name(const GemmCase& c) {
  return std::string(c.ta ? "T" : "N") + (c.tb ? "T" : "N") + (c.backend == GemmBackend::Sgemm ? "_Sgemm" : "_Primitive");
}
void PrintTo(const GemmCase& c, std::ostream* os) { *os << case_name(c); }

std::vector<GemmCase> all_gemm_cases() {
  std::vector<GemmCase> cases;
  for (GemmBackend backend : {GemmBackend::Sgemm, GemmBackend::Primitive})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) cases.push_back({ta, tb, backend});
  return cases;
}

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTest, MatchesNaiveWithPaddedLeadingDimsAndBetaAccumulation) {
  const auto [ta, tb, backend] = GetParam();
  const int64_t M = 7, N = 13, K = 33;
  // Stored shapes: A is [M,K] or [K,M]; leading dims padded beyond the minimum.
  const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
  const int64_t a_rows = ta ? K : M, b_rows = tb ? N : K;
  Tensor A = random_tensor({a_rows, lda}, 1), B = random_tensor({b_rows, ldb}, 2);
  Tensor C = random_tensor({M, ldc}, 3);
  Tensor expected = C.copy();
  naive_gemm(ta, tb, M, N, K, 0.75f, A.data(), lda, B.data(), ldb, 0.5f, expected.data(), ldc);
  gemm(ta, tb, M, N, K, 0.75f, A.data(), lda, B.data(), ldb, 0.5f, C.data(), ldc, backend);
  expect_close(C, expected, 1e-4f, 1e-4f);  // padding columns included: they must be untouched

  // beta = 0 overwrites whatever C held (NaN included).
  Tensor D = Tensor::full({M, ldc}, std::nanf(""));
  Tensor expected0 = Tensor::zeros({M, ldc});
  naive_gemm(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, expected0.data(), ldc);
  gemm(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, D.data(), ldc, backend);
  for (int64_t i = 0; i < M; ++i) expect_close(D.data() + i * ldc, expected0.data() + i * ldc, N, 1e-4f, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(AllTransposesBothBackends, GemmTest, ::testing::ValuesIn(all_gemm_cases()),
                         [](const auto& info) { return case_name(info.param); });

class GemmBatchedTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmBatchedTest, EachMatrixMatchesNaive) {
  const auto [ta, tb, backend] = GetParam();
  const int64_t batch = 3, M = 7, N = 5, K = 13;
  const int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
  const int64_t sa = (ta ? K : M) * lda + 4, sb = (tb ? N : K) * ldb + 1, sc = M * ldc + 2;
  Tensor A = random_tensor({batch * sa}, 4), B = random_tensor({batch * sb}, 5);
  Tensor C = random_tensor({batch * sc}, 6);
  Tensor expected = C.copy();
  for (int64_t i = 0; i < batch; ++i)
    naive_gemm(ta, tb, M, N, K, 1.25f, A.data() + i * sa, lda, B.data() + i * sb, ldb, 1.0f,
               expected.data() + i * sc, ldc);
  gemm_batched(batch, ta, tb, M, N, K, 1.25f, A.data(), lda, sa, B.data(), ldb, sb, 1.0f, C.data(), ldc, sc,
               backend);
  expect_close(C, expected, 1e-4f, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(AllTransposesBothBackends, GemmBatchedTest, ::testing::ValuesIn(all_gemm_cases()),
                         [](const auto& info) { return case_name(info.param); });

TEST(GemmBatched, SharedOperandWithZeroStrideMatchesNaive) {
  const int64_t batch = 4, M = 3, N = 7, K = 5;
  Tensor A = random_tensor({batch, M, K}, 7), B = random_tensor({K, N}, 8);
  for (GemmBackend backend : {GemmBackend::Sgemm, GemmBackend::Primitive}) {
    Tensor C = Tensor::zeros({batch, M, N}), expected = Tensor::zeros({batch, M, N});
    for (int64_t i = 0; i < batch; ++i)
      naive_gemm(false, false, M, N, K, 1.0f, A.data() + i * M * K, K, B.data(), N, 0.0f,
                 expected.data() + i * M * N, N);
    gemm_batched(batch, false, false, M, N, K, 1.0f, A.data(), K, M * K, B.data(), N, 0, 0.0f, C.data(), N, M * N,
                 backend);
    expect_close(C, expected, 1e-4f, 1e-4f);
  }
}

TEST(Gemm, PrimitiveCacheCreatesNothingForARepeatedShape) {
  const int64_t M = 9, N = 11, K = 17;
  Tensor A = random_tensor({M, K}, 9), B = random_tensor({K, N}, 10), C = Tensor::zeros({M, N});
  gemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N, GemmBackend::Primitive);
  const int64_t after_warmup = gemm_primitives_created();
  EXPECT_GE(after_warmup, 1);
  for (int i = 0; i < 3; ++i)
    gemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N, GemmBackend::Primitive);
  EXPECT_EQ(gemm_primitives_created(), after_warmup);
  // Also for fresh buffers of the same shape (the cache keys on shape, not pointers).
  Tensor A2 = A.copy(), B2 = B.copy(), C2 = Tensor::zeros({M, N});
  gemm(false, false, M, N, K, 1.0f, A2.data(), K, B2.data(), N, 0.0f, C2.data(), N, GemmBackend::Primitive);
  EXPECT_EQ(gemm_primitives_created(), after_warmup);
  expect_close(C2, C, 0.0f);
  // A new shape does create one.
  gemm(false, false, M - 1, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N, GemmBackend::Primitive);
  EXPECT_EQ(gemm_primitives_created(), after_warmup + 1);
}

TEST(Gemm, EmptyInnerDimensionScalesC) {
  Tensor C = Tensor::full({3, 4}, 2.0f);
  gemm(false, false, 3, 4, 0, 1.0f, nullptr, 1, nullptr, 4, 0.5f, C.data(), 4);
  for (int64_t i = 0; i < C.numel(); ++i) EXPECT_EQ(C.at(i), 1.0f);
  gemm(false, false, 3, 4, 0, 1.0f, nullptr, 1, nullptr, 4, 0.0f, C.data(), 4);
  for (int64_t i = 0; i < C.numel(); ++i) EXPECT_EQ(C.at(i), 0.0f);
}

TEST(Gemm, TooSmallLeadingDimensionThrows) {
  Tensor A = Tensor::zeros({4, 4}), B = Tensor::zeros({4, 4}), C = Tensor::zeros({4, 4});
  EXPECT_THROW(gemm(false, false, 4, 4, 4, 1.0f, A.data(), 3, B.data(), 4, 0.0f, C.data(), 4), Error);
  EXPECT_THROW(gemm(false, false, 4, 4, 4, 1.0f, A.data(), 4, B.data(), 4, 0.0f, C.data(), 3), Error);
  EXPECT_THROW(gemm_batched(2, false, true, 4, 4, 4, 1.0f, A.data(), 4, 0, B.data(), 3, 0, 0.0f, C.data(), 4, 0),
               Error);
}

TEST(Linear, ForwardMatchesNaiveWithAndWithoutBias) {
  const int64_t rows = 7, n_in = 33, n_out = 13;
  Tensor x = random_tensor({rows, n_in}, 11), w = random_tensor({n_out, n_in}, 12), b = random_tensor({n_out}, 13);
  Tensor expected = Tensor::zeros({rows, n_out});
  naive_gemm(false, true, rows, n_out, n_in, 1.0f, x.data(), n_in, w.data(), n_in, 0.0f, expected.data(), n_out);
  Tensor out = Tensor::full({rows, n_out}, std::nanf(""));
  linear_forward(out.data(), x.data(), w.data(), nullptr, rows, n_in, n_out);
  expect_close(out, expected, 1e-4f, 1e-4f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_out; ++j) expected.data()[r * n_out + j] += b.at(j);
  linear_forward(out.data(), x.data(), w.data(), b.data(), rows, n_in, n_out);
  expect_close(out, expected, 1e-4f, 1e-4f);
}

TEST(Linear, BackwardAccumulatesNaiveGradients) {
  const int64_t rows = 7, n_in = 13, n_out = 33;
  Tensor x = random_tensor({rows, n_in}, 14), w = random_tensor({n_out, n_in}, 15);
  Tensor dout = random_tensor({rows, n_out}, 16);
  // Start from non-zero gradients: the kernel must add, not overwrite.
  Tensor dx = random_tensor({rows, n_in}, 17), dw = random_tensor({n_out, n_in}, 18), db = random_tensor({n_out}, 19);
  Tensor ex = dx.copy(), ew = dw.copy(), eb = db.copy();
  naive_gemm(false, false, rows, n_in, n_out, 1.0f, dout.data(), n_out, w.data(), n_in, 1.0f, ex.data(), n_in);
  naive_gemm(true, false, n_out, n_in, rows, 1.0f, dout.data(), n_out, x.data(), n_in, 1.0f, ew.data(), n_in);
  for (int64_t j = 0; j < n_out; ++j)
    for (int64_t r = 0; r < rows; ++r) eb.data()[j] += dout.at(r * n_out + j);
  linear_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), rows, n_in, n_out);
  expect_close(dx, ex, 1e-4f, 1e-4f);
  expect_close(dw, ew, 1e-4f, 1e-4f);
  expect_close(db, eb, 1e-4f, 1e-4f);
  // Null outputs are skipped.
  Tensor dx2 = Tensor::zeros({rows, n_in}), ex2 = Tensor::zeros({rows, n_in});
  naive_gemm(false, false, rows, n_in, n_out, 1.0f, dout.data(), n_out, w.data(), n_in, 0.0f, ex2.data(), n_in);
  linear_backward(dx2.data(), nullptr, nullptr, dout.data(), x.data(), w.data(), rows, n_in, n_out);
  expect_close(dx2, ex2, 1e-4f, 1e-4f);
}

}  // namespace
}  // namespace tfm
