// autograd/ops/dropout: identity modes, generator use, and the gradient through
// a fixed mask.
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
