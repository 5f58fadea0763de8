// autograd/ops/linear: linear and matmul, forward against a naive loop and
// backward by finite differences for every transpose/batched/shared mode.
#include <string>
#include <ostream>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// out[b] = op(a[b])·op(b[b or shared]) in double; a, b stored row-major.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb, int64_t batch, int64_t M,
                                 int64_t N, int64_t K, bool b_shared) {
  std::vector<double> out(batch * M * N, 0.0);
  for (int64_t p = 0; p < batch; ++p) {
    const float* A = a.data() + p * M * K;
    const float* B = b.data() + (b_shared ? 0 : p * K * N);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0.0;
        for (int64_t k = 0; k < K; ++k) s += double(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
        out[(p * M + i) * N + j] = s;
      }
  }
  return out;
}

// Operand shape: batch dims then the stored (possibly transposed) matrix.
Shape stored(std::vector<int64_t> batch, int64_t rows, int64_t cols, bool transposed) {
  batch.push_back(transposed ? cols : rows);
  batch.push_back(transposed ? rows : cols);
  return Shape(std::span<const int64_t>(batch));
}

// Plain2D: a[M,K]·b[K,N]; Batched: a[2,3,M,K]·b[2,3,K,N]; SharedB: a[2,3,M,K]·b[K,N].
enum class Mode { Plain2D, Batched, SharedB };

struct MatmulCase {
  Mode mode;
  bool ta, tb;
};

std::string case_name(const MatmulCase& c) {
  return std::string(c.mode == Mode::Plain2D ? "Plain2D" : c.mode == Mode::Batched ? "Batched" : "SharedB") + "_" +
         (c.ta ? "T" : "N") + (c.tb ? "T" : "N");
}
void PrintTo(const MatmulCase& c, std::ostream* os) { *os << case_name(c); }

std::vector<MatmulCase> all_matmul_cases() {
  std::vector<MatmulCase> cases;
  for (Mode mode : {Mode::Plain2D, Mode::Batched, Mode::SharedB})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) cases.push_back({mode, ta, tb});
  return cases;
}

class MatmulTest : public ::testing::TestWithParam<MatmulCase> {
 protected:
  void SetUp() override {
    mode_ = GetParam().mode;
    ta_ = GetParam().ta;
    tb_ = GetParam().tb;
    const std::vector<int64_t> batch_dims = mode_ == Mode::Plain2D ? std::vector<int64_t>{} : std::vector<int64_t>{2, 3};
    batch_ = mode_ == Mode::Plain2D ? 1 : 6;
    a_ = random_param(stored(batch_dims, M, K, ta_), 1);
    b_ = random_param(stored(mode_ == Mode::Batched ? batch_dims : std::vector<int64_t>{}, K, N, tb_), 2);
  }
  static constexpr int64_t M = 3, N = 5, K = 7;
  Mode mode_;
  bool ta_, tb_;
  int64_t batch_;
  Variable a_, b_;
};

TEST_P(MatmulTest, ForwardMatchesNaive) {
  Variable c = matmul(a_, b_, ta_, tb_);
  EXPECT_EQ(c.dim(-2), M);
  EXPECT_EQ(c.dim(-1), N);
  EXPECT_EQ(c.numel(), batch_ * M * N);
  std::vector<double> ref = naive_matmul(a_.data(), b_.data(), ta_, tb_, batch_, M, N, K, mode_ == Mode::SharedB);
  for (int64_t i = 0; i < c.numel(); ++i) ASSERT_NEAR(c.data().at(i), ref[i], 1e-5) << "at " << i;
}

TEST_P(MatmulTest, BackwardMatchesFiniteDifferences) {
  const bool ta = ta_, tb = tb_;
  auto f = [ta, tb](const std::vector<Variable>& v) { return matmul(v[0], v[1], ta, tb); };
  EXPECT_GRADCHECK(f, std::vector<Variable>({a_, b_}));
}

TEST_P(MatmulTest, BackwardWithOnlyOneOperandRequiringGrad) {
  const bool ta = ta_, tb = tb_;
  Variable a_const(a_.data().copy()), b_const(b_.data().copy());
  auto wrt_a = [ta, tb, b_const](const std::vector<Variable>& v) { return matmul(v[0], b_const, ta, tb); };
  auto wrt_b = [ta, tb, a_const](const std::vector<Variable>& v) { return matmul(a_const, v[0], ta, tb); };
  EXPECT_GRADCHECK(wrt_a, std::vector<Variable>({a_}));
  EXPECT_GRADCHECK(wrt_b, std::vector<Variable>({b_}));
}

INSTANTIATE_TEST_SUITE_P(AllModes, MatmulTest, ::testing::ValuesIn(all_matmul_cases()),
                         [](const auto& info) { return case_name(info.param); });

TEST(Matmul, MismatchedInnerOrBatchDimensionsThrow) {
  EXPECT_THROW(matmul(random_param({3, 4}, 3), random_param({5, 6}, 4)), Error);
  EXPECT_THROW(matmul(random_param({3, 4}, 3), random_param({5, 4}, 4), false, false), Error);
  EXPECT_NO_THROW(matmul(random_param({3, 4}, 3), random_param({5, 4}, 4), false, true));
  EXPECT_THROW(matmul(random_param({2, 3, 4}, 5), random_param({3, 4, 5}, 6)), Error);
  EXPECT_THROW(matmul(random_param({4}, 7), random_param({4, 2}, 8)), Error);
}

TEST(Linear, ForwardMatchesNaiveOn3DInput) {
  Variable x = random_param({2, 3, 7}, 9), w = random_param({5, 7}, 10), b = random_param({5}, 11);
  Variable y = linear(x, w, b);
  ASSERT_EQ(y.shape(), Shape({2, 3, 5}));
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t o = 0; o < 5; ++o) {
      double s = b.data().at(o);
      for (int64_t i = 0; i < 7; ++i) s += double(x.data().at(r * 7 + i)) * w.data().at(o * 7 + i);
      ASSERT_NEAR(y.data().at(r * 5 + o), s, 1e-5);
    }
}

TEST(Linear, BackwardMatchesFiniteDifferencesWithBias) {
  std::vector<Variable> in{random_param({2, 3, 7}, 12), random_param({13, 7}, 13), random_param({13}, 14)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return linear(v[0], v[1], v[2]); }, in);
}

TEST(Linear, BackwardMatchesFiniteDifferencesWithoutBias) {
  std::vector<Variable> in{random_param({7, 13}, 15), random_param({5, 13}, 16)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return linear(v[0], v[1], Variable()); }, in);
}

TEST(Linear, BackwardToWeightOnlyWithConstantInput) {
  Variable x(random_tensor({7, 13}, 17));
  std::vector<Variable> in{random_param({5, 13}, 18), random_param({5}, 19)};
  EXPECT_GRADCHECK([x](const std::vector<Variable>& v) { return linear(x, v[0], v[1]); }, in);
}

TEST(Linear, WeightUsedTwiceAccumulatesBothGradients) {
  // W and b feed two linear nodes: the second backward must add to, not overwrite, the first.
  std::vector<Variable> in{random_param({7, 5}, 23), random_param({5, 5}, 24), random_param({5}, 25)};
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) { return linear(tanh(linear(v[0], v[1], v[2])), v[1], v[2]); }, in);
}

TEST(Matmul, OperandUsedTwiceAccumulatesBothGradients) {
  std::vector<Variable> in{random_param({2, 5, 5}, 26), random_param({2, 5, 3}, 27)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return matmul(v[0], matmul(v[0], v[1]), true, false); },
                   in);
}

TEST(Linear, ShapeMismatchesThrow) {
  EXPECT_THROW(linear(random_param({3, 4}, 20), random_param({5, 6}, 21), Variable()), Error);
  EXPECT_THROW(linear(random_param({3, 4}, 20), random_param({5, 4}, 21), random_param({4}, 22)), Error);
  EXPECT_THROW(linear(random_param({3, 4}, 20), random_param({20}, 21), Variable()), Error);
}

}  // namespace
}  // namespace tfm
