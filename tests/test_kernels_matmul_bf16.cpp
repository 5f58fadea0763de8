// core/kernels/matmul, bf16: gemm_bf16 (fp32 and bf16 output) and gemm_batched_bf16
// against a triple loop in double.
//
// Two references, two tolerances:
//  - on the bf16 values themselves (inputs rounded first): a product of two bf16
//    numbers is exact in fp32, so the only error left is fp32 accumulation, at most
//    about K·2⁻²⁴·Σ|a·b|. The tests allow 2⁻¹⁶·Σ|a·b|, 256 times less than a
//    bf16 accumulator would need (2⁻⁸), so accumulating in bf16 fails them;
//  - on the fp32 inputs (what a caller of the fp32 gemm would get): bf16 keeps 8
//    significant bits, so rounding an input costs at most 2⁻⁸ relative (half a unit
//    in the last place), a product about 2⁻⁷, and |error| ≤ 2⁻⁷·Σ|a·b| plus the
//    accumulation term.
// A bf16 output adds one rounding of the result: 2⁻⁸·|c|.
#include <omp.h>

#include <cmath>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "core/kernels/matmul.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

bool have_avx512() { return __builtin_cpu_supports("avx512f"); }

#define SKIP_WITHOUT_AVX512() \
  if (!have_avx512()) GTEST_SKIP() << "oneDNN has no bf16 matmul on a CPU without AVX-512"

std::vector<bf16_t> to_bf16_vec(const Tensor& t) {
  std::vector<bf16_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[i] = to_bf16(t.data()[i]);
  return out;
}

// The exact value and Σ|a·b| of one output element, in double, from fp32 or bf16 inputs.
struct Dot {
  double value = 0.0, abs_sum = 0.0;
};
template <typename T>
double val(T x) {
  if constexpr (std::is_same_v<T, bf16_t>)
    return from_bf16(x);
  else
    return x;
}
template <typename T>
Dot naive_dot(bool ta, bool tb, int64_t i, int64_t j, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb) {
  Dot d;
  for (int64_t k = 0; k < K; ++k) {
    const double a = val(ta ? A[k * lda + i] : A[i * lda + k]);
    const double b = val(tb ? B[j * ldb + k] : B[k * ldb + j]);
    d.value += a * b;
    d.abs_sum += std::fabs(a * b);
  }
  return d;
}

struct Case {
  bool ta, tb;
};
std::string case_name(const Case& c) { return std::string(c.ta ? "T" : "N") + (c.tb ? "T" : "N"); }
void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

class GemmBf16Test : public ::testing::TestWithParam<Case> {};

// Every transpose, padded leading dims, alpha and beta; padding must stay untouched.
TEST_P(GemmBf16Test, Fp32OutputMatchesNaiveOnTheBf16ValuesAndTheFp32Inputs) {
  SKIP_WITHOUT_AVX512();
  const auto [ta, tb] = GetParam();
  const int64_t M = 9, N = 21, K = 67;
  const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
  Tensor A = random_tensor({ta ? K : M, lda}, 11), B = random_tensor({tb ? N : K, ldb}, 12);
  Tensor C = random_tensor({M, ldc}, 13);
  const Tensor C0 = C.copy();
  const std::vector<bf16_t> a16 = to_bf16_vec(A), b16 = to_bf16_vec(B);
  const float alpha = 0.75f, beta = 0.5f;
  gemm_bf16(ta, tb, M, N, K, alpha, a16.data(), lda, b16.data(), ldb, beta, C.data(), ldc);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      const double c0 = C0.data()[i * ldc + j], got = C.data()[i * ldc + j];
      const Dot on16 = naive_dot(ta, tb, i, j, K, a16.data(), lda, b16.data(), ldb);
      const double exact16 = alpha * on16.value + beta * c0;
      EXPECT_NEAR(got, exact16, std::ldexp(alpha * on16.abs_sum + std::fabs(beta * c0), -16)) << i << "," << j;
      const Dot on32 = naive_dot(ta, tb, i, j, K, A.data(), lda, B.data(), ldb);
      const double exact32 = alpha * on32.value + beta * c0;
      EXPECT_NEAR(got, exact32, std::ldexp(alpha * on32.abs_sum, -7) + std::ldexp(std::fabs(exact32), -16))
          << i << "," << j;
    }
    for (int64_t j = N; j < ldc; ++j) EXPECT_EQ(C.data()[i * ldc + j], C0.data()[i * ldc + j]) << "padding";
  }
}

TEST_P(GemmBf16Test, Bf16OutputIsTheAccumulatedResultRoundedOnce) {
  SKIP_WITHOUT_AVX512();
  const auto [ta, tb] = GetParam();
  const int64_t M = 6, N = 17, K = 45;
  const int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
  const std::vector<bf16_t> a16 = to_bf16_vec(random_tensor({ta ? K : M, lda}, 21));
  const std::vector<bf16_t> b16 = to_bf16_vec(random_tensor({tb ? N : K, ldb}, 22));
  const std::vector<bf16_t> c0 = to_bf16_vec(random_tensor({M, ldc}, 23));
  std::vector<bf16_t> c = c0;
  const float alpha = 1.25f, beta = 1.0f;
  gemm_bf16(ta, tb, M, N, K, alpha, a16.data(), lda, b16.data(), ldb, beta, c.data(), ldc);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      const Dot d = naive_dot(ta, tb, i, j, K, a16.data(), lda, b16.data(), ldb);
      const double exact = alpha * d.value + beta * from_bf16(c0[i * ldc + j]);
      const double acc_err = std::ldexp(alpha * d.abs_sum + std::fabs(from_bf16(c0[i * ldc + j])), -16);
      EXPECT_NEAR(from_bf16(c[i * ldc + j]), exact, std::ldexp(std::fabs(exact), -8) + acc_err) << i << "," << j;
    }
    for (int64_t j = N; j < ldc; ++j) EXPECT_EQ(c[i * ldc + j], c0[i * ldc + j]) << "padding";
  }
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, GemmBf16Test,
                         ::testing::Values(Case{false, false}, Case{false, true}, Case{true, false}, Case{true, true}),
                         [](const auto& info) { return case_name(info.param); });

// A long inner dimension of same-signed terms: a bf16 accumulator would drift by
// percents (each addition rounds to 8 bits), fp32 stays within 2⁻¹⁶.
TEST(GemmBf16, AccumulatesInFp32OverALongInnerDimension) {
  SKIP_WITHOUT_AVX512();
  const int64_t M = 4, N = 5, K = 4096;
  const std::vector<bf16_t> a16 = to_bf16_vec(random_tensor({M, K}, 31, 0.5f, 1.0f));
  const std::vector<bf16_t> b16 = to_bf16_vec(random_tensor({K, N}, 32, 0.5f, 1.0f));
  std::vector<float> c(M * N);
  gemm_bf16(false, false, M, N, K, 1.0f, a16.data(), K, b16.data(), N, 0.0f, c.data(), N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const Dot d = naive_dot(false, false, i, j, K, a16.data(), K, b16.data(), N);
      EXPECT_NEAR(c[i * N + j], d.value, std::ldexp(d.abs_sum, -16));
    }
}

TEST(GemmBf16, KnownSmallProductIsExact) {
  SKIP_WITHOUT_AVX512();
  // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50], all exact in bf16.
  const std::vector<bf16_t> a{to_bf16(1), to_bf16(2), to_bf16(3), to_bf16(4)};
  const std::vector<bf16_t> b{to_bf16(5), to_bf16(6), to_bf16(7), to_bf16(8)};
  std::vector<float> c(4, -1.0f);
  gemm_bf16(false, false, 2, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{19, 22, 43, 50}));
}

// Attention's layout: Q and K of every head as column slices of [seq, heads·dim]
// rows (ld = heads·dim), scores [head, seq, seq] contiguous.
TEST(GemmBf16, BatchedHeadSlicesMatchNaive) {
  SKIP_WITHOUT_AVX512();
  const int64_t heads = 3, T = 19, D = 8, ld = heads * D;
  const std::vector<bf16_t> q = to_bf16_vec(random_tensor({T, ld}, 41));
  const std::vector<bf16_t> k = to_bf16_vec(random_tensor({T, ld}, 42));
  std::vector<float> s(heads * T * T);
  const float scale = 0.125f;
  gemm_batched_bf16(heads, false, true, T, T, D, scale, q.data(), ld, D, k.data(), ld, D, 0.0f, s.data(), T, T * T);
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) {
        const Dot d = naive_dot(false, true, i, j, D, q.data() + h * D, ld, k.data() + h * D, ld);
        EXPECT_NEAR(s[(h * T + i) * T + j], scale * d.value, std::ldexp(scale * d.abs_sum, -16))
            << "head " << h << " (" << i << "," << j << ")";
      }
}

// The threads of a parallel region each run their own matrices through one cached
// primitive. Shared memory objects would mix up their pointers, and oneDNN's own
// scratchpad is one global buffer (its brgemm kernels pack operands there): with
// it, most runs of this test got a wrong matrix within 200 rounds.
TEST(GemmBf16, ConcurrentCallsFromAParallelRegionStayApart) {
  SKIP_WITHOUT_AVX512();
  const int64_t n = 16, M = 12, N = 10, K = 24;
  const std::vector<bf16_t> a = to_bf16_vec(random_tensor({n, M, K}, 51));
  const std::vector<bf16_t> b = to_bf16_vec(random_tensor({n, K, N}, 52));
  std::vector<Dot> expected;
  for (int64_t m = 0; m < n; ++m)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        expected.push_back(naive_dot(false, false, i, j, K, a.data() + m * M * K, K, b.data() + m * K * N, N));
  std::vector<float> c(n * M * N, 0.0f);
  gemm_bf16(false, false, M, N, K, 1.0f, a.data(), K, b.data(), N, 0.0f, c.data(), N);  // create it first
  const int64_t created = gemm_primitives_created();
  for (int round = 0; round < 200; ++round) {
    std::fill(c.begin(), c.end(), 0.0f);
#pragma omp parallel for num_threads(2) schedule(static, 1)
    for (int64_t m = 0; m < n; ++m)
      gemm_bf16(false, false, M, N, K, 1.0f, a.data() + m * M * K, K, b.data() + m * K * N, N, 0.0f,
                c.data() + m * M * N, N);
    for (size_t e = 0; e < c.size(); ++e)
      ASSERT_NEAR(c[e], expected[e].value, std::ldexp(expected[e].abs_sum, -16))
          << "round " << round << ", matrix " << e / (M * N);
  }
  EXPECT_EQ(gemm_primitives_created(), created) << "steady state creates no primitive";
}

TEST(GemmBf16, RepeatedShapeReusesItsPrimitiveAndOutputTypesDoNot) {
  SKIP_WITHOUT_AVX512();
  const std::vector<bf16_t> a = to_bf16_vec(random_tensor({8, 8}, 61));
  std::vector<float> c32(64);
  std::vector<bf16_t> c16(64);
  gemm_bf16(false, false, 8, 8, 8, 1.0f, a.data(), 8, a.data(), 8, 0.0f, c32.data(), 8);
  const int64_t after = gemm_primitives_created();
  gemm_bf16(false, false, 8, 8, 8, 1.0f, a.data(), 8, a.data(), 8, 0.0f, c32.data(), 8);
  EXPECT_EQ(gemm_primitives_created(), after);
  gemm_bf16(false, false, 8, 8, 8, 1.0f, a.data(), 8, a.data(), 8, 0.0f, c16.data(), 8);
  EXPECT_EQ(gemm_primitives_created(), after + 1) << "a bf16 output is a different primitive";
  for (int i = 0; i < 64; ++i)  // the same sums, rounded once (kernels may order the sums differently)
    EXPECT_NEAR(from_bf16(c16[i]), c32[i], std::ldexp(std::fabs(c32[i]), -8)) << i;
}

TEST(GemmBf16, EmptyInnerDimensionScalesCAndEmptyOutputIsANoOp) {
  SKIP_WITHOUT_AVX512();
  std::vector<float> c{1.0f, -2.0f, 3.0f, 4.0f};
  gemm_bf16(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0.5f, -1.0f, 1.5f, 2.0f}));
  gemm_bf16(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0, 0, 0, 0}));
  gemm_bf16(false, false, 0, 2, 3, 1.0f, nullptr, 3, nullptr, 2, 0.0f, c.data(), 2);  // M = 0
  // bf16 output: scaled in fp32, then rounded to nearest. 3.015625 = 193·2⁻⁶ is a bf16
  // number; 0.75 of it is 144.75·2⁻⁶, which rounds up to 145·2⁻⁶ = 2.265625 (truncating
  // would give 2.25).
  std::vector<bf16_t> c16{to_bf16(3.015625f), to_bf16(-4.0f)};
  ASSERT_EQ(from_bf16(c16[0]), 3.015625f);
  gemm_bf16(false, false, 1, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.75f, c16.data(), 2);
  EXPECT_EQ(from_bf16(c16[0]), 2.265625f);
  EXPECT_EQ(from_bf16(c16[1]), -3.0f);
}

TEST(GemmBf16, BadDimensionsThrowNamingTheOp) {
  const std::vector<bf16_t> a(64);
  std::vector<float> c(64);
  EXPECT_CONTAINS(
      error_message([&] { gemm_bf16(false, false, 4, 4, 4, 1.0f, a.data(), 3, a.data(), 4, 0.0f, c.data(), 4); }),
      "gemm_bf16: leading dimension too small: lda=3");
  EXPECT_CONTAINS(error_message([&] {
                    gemm_batched_bf16(2, false, false, -1, 4, 4, 1.0f, a.data(), 4, 16, a.data(), 4, 16, 0.0f,
                                      c.data(), 4, 16);
                  }),
                  "gemm_batched_bf16: negative size M=-1");
}

// Independent of CPUID: the kernel's own list of flags.
TEST(GemmBf16, IsaDetectionAgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo";
  std::string line;
  bool listed = false, seen_flags = false;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      seen_flags = true;
      listed = (line + " ").find(" avx512_bf16 ") != std::string::npos;
      break;
    }
  if (!seen_flags) GTEST_SKIP() << "/proc/cpuinfo has no flags line";
  EXPECT_EQ(cpu_has_avx512_bf16(), listed);
}

}  // namespace
}  // namespace tfm
