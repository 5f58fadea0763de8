// autograd/ops/dropout: identity modes, generator use, and the gradient through
// a fixed mask.
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(DropoutOp, BackwardMatchesFiniteDifferencesWithAFixedMask) {
  // The generator is reset inside f, so every evaluation draws the same mask.
  Generator gen(7);
  std::vector<Variable> in{random_param({7, 13}, 1)};
  EXPECT_GRADCHECK(
      [&gen](const std::vector<Variable>& v) {
        gen.set_state(7, 3);
        return dropout(v[0], 0.3f, true, gen);
      },
      in);
}

TEST(DropoutOp, GradientIsMaskScaledUpstream) {
  Generator gen(11);
  Variable x = random_param({5, 33}, 2, 1.0f, 2.0f);  // non-zero: dropped elements are exactly 0
  Variable y = dropout(x, 0.25f, true, gen);
  Tensor g = random_tensor({5, 33}, 3);
  y.backward(g);
  int64_t dropped = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool kept = y.data().at(i) != 0.0f;
    dropped += !kept;
    if (kept) {
      ASSERT_FLOAT_EQ(y.data().at(i), x.data().at(i) / 0.75f);
    }
    ASSERT_FLOAT_EQ(x.grad().at(i), kept ? g.at(i) / 0.75f : 0.0f) << "at " << i;
  }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, x.numel() / 2);
}

// Inverted dropout keeps the expectation: E[dropout(x)_i] = x_i. Over n elements the mean of
// dropout(x) − x has standard error √(Σ x_i² · p/(1−p)) / n (each term is x_i·(m_i/(1−p) − 1), variance
// x_i²·p/(1−p)); the bound is 5 of them. Kept elements are x/(1−p) to within one float32 rounding.
TEST(DropoutOp, MeanOfManyElementsIsKeptAndKeptElementsAreScaledBy1OverKeepProbability) {
  const int64_t n = 200003;
  Variable x = random_param({n}, 12, -1.0f, 2.0f);  // mean ≈ 0.5, no zeros in practice
  Generator gen(21);
  for (float p : {0.1f, 0.5f, 0.8f}) {
    SCOPED_TRACE(::testing::Message() << "p = " << p);
    const Variable y = dropout(x, p, true, gen);
    double diff = 0.0, squares = 0.0, sum = 0.0;
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double xi = x.data().at(i), yi = y.data().at(i);
      diff += yi - xi;
      squares += xi * xi;
      sum += xi;
      if (yi != 0.0) {
        ++kept;
        const double scaled = xi / (1.0 - static_cast<double>(p));
        ASSERT_LE(std::fabs(yi - scaled), std::ldexp(std::fabs(scaled), -23)) << "at " << i;
      }
    }
    const double standard_error = std::sqrt(squares * p / (1.0 - p)) / static_cast<double>(n);
    EXPECT_LT(std::fabs(diff / static_cast<double>(n)), 5.0 * standard_error);
    // Not vacuous: unscaled kept values would be off by p·mean(x), far outside the bound.
    EXPECT_GT(p * std::fabs(sum / static_cast<double>(n)), 20.0 * standard_error);
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 5.0 * std::sqrt(p * (1.0 - p) / n));
  }
}

TEST(DropoutOp, AdvancesTheGeneratorSoMasksDiffer) {
  Generator gen(5);
  Variable x = random_param({101}, 4, 1.0f, 2.0f);
  Variable a = dropout(x, 0.5f, true, gen);
  EXPECT_EQ(gen.offset(), 26u);  // ⌈101/4⌉ blocks
  Variable b = dropout(x, 0.5f, true, gen);
  int same = 0;
  for (int64_t i = 0; i < 101; ++i) same += (a.data().at(i) == 0.0f) == (b.data().at(i) == 0.0f);
  EXPECT_LT(same, 80);
  // Same state, same mask.
  Generator again(5);
  expect_close(dropout(x, 0.5f, true, again).data(), a.data(), 0.0f);
}

TEST(DropoutOp, EvaluationAndZeroProbabilityAreIdentity) {
  Generator gen(9);
  Variable x = random_param({3, 7}, 5);
  Variable y = dropout(x, 0.5f, false, gen);
  EXPECT_EQ(y.impl(), x.impl());
  EXPECT_EQ(dropout(x, 0.0f, true, gen).impl(), x.impl());
  EXPECT_EQ(gen.offset(), 0u);
}

TEST(DropoutOp, ProbabilityOutsideRangeThrows) {
  Generator gen(1);
  Variable x = random_param({4}, 6);
  EXPECT_THROW(dropout(x, 1.0f, true, gen), Error);
  EXPECT_THROW(dropout(x, -0.1f, true, gen), Error);
}

}  // namespace
}  // namespace tfm
