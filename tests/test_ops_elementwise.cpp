// autograd/ops/elementwise: arithmetic with broadcasting, reductions, reshape,
// concatenation and slicing: forward values and finite-difference gradients.
#include <ostream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

struct BinaryOp {
  const char* name;
  Variable (*fn)(const Variable&, const Variable&);
};
void PrintTo(const BinaryOp& op, std::ostream* os) { *os << op.name; }

TEST(ElementwiseOps, ForwardValuesSameShapeAndBroadcast) {
  Variable a = random_param({3, 5, 7}, 1), b = random_param({3, 5, 7}, 2), c = random_param({5, 7}, 3);
  Variable s = add(a, b), d = sub(a, b), m = mul(a, b), bc = add(a, c), bm = a * c, bd = a - c;
  for (int64_t k = 0; k < a.numel(); ++k) {
    const float x = a.data().at(k), y = b.data().at(k), z = c.data().at(k % 35);
    ASSERT_FLOAT_EQ(s.data().at(k), x + y);
    ASSERT_FLOAT_EQ(d.data().at(k), x - y);
    ASSERT_FLOAT_EQ(m.data().at(k), x * y);
    ASSERT_FLOAT_EQ(bc.data().at(k), x + z);
    ASSERT_FLOAT_EQ(bm.data().at(k), x * z);
    ASSERT_FLOAT_EQ(bd.data().at(k), x - z);
  }
}

class BinaryOpTest : public ::testing::TestWithParam<BinaryOp> {};

TEST_P(BinaryOpTest, BackwardMatchesFiniteDifferencesSameShape) {
  auto f = GetParam().fn;
  std::vector<Variable> in{random_param({7, 13}, 4), random_param({7, 13}, 5)};
  EXPECT_GRADCHECK([f](const std::vector<Variable>& v) { return f(v[0], v[1]); }, in);
}

TEST_P(BinaryOpTest, BackwardMatchesFiniteDifferencesBroadcastOverRows) {
  auto f = GetParam().fn;
  std::vector<Variable> in{random_param({7, 13}, 6), random_param({13}, 7)};
  EXPECT_GRADCHECK([f](const std::vector<Variable>& v) { return f(v[0], v[1]); }, in);
}

TEST_P(BinaryOpTest, BackwardMatchesFiniteDifferencesBroadcastTrailingMatrix) {
  auto f = GetParam().fn;
  std::vector<Variable> in{random_param({3, 5, 7}, 8), random_param({5, 7}, 9)};
  EXPECT_GRADCHECK([f](const std::vector<Variable>& v) { return f(v[0], v[1]); }, in);
}

TEST_P(BinaryOpTest, SameVariableOnBothSides) {
  auto f = GetParam().fn;
  std::vector<Variable> in{random_param({5, 3}, 10)};
  EXPECT_GRADCHECK([f](const std::vector<Variable>& v) { return f(v[0], v[0]); }, in);
}

TEST_P(BinaryOpTest, IncompatibleShapesThrow) {
  auto f = GetParam().fn;
  EXPECT_THROW(f(random_param({3, 5}, 11), random_param({3}, 12)), Error);
  EXPECT_THROW(f(random_param({5}, 11), random_param({3, 5}, 12)), Error);
}

INSTANTIATE_TEST_SUITE_P(Ops, BinaryOpTest,
                         ::testing::Values(BinaryOp{"Add", add}, BinaryOp{"Sub", sub}, BinaryOp{"Mul", mul}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ScaleOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({7, 13}, 13)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return scale(v[0], -1.75f); }, in);
}

TEST(SumOp, ForwardAndBackward) {
  Variable x = random_param({3, 7}, 14);
  double s = 0.0;
  for (int64_t i = 0; i < x.numel(); ++i) s += x.data().at(i);
  Variable y = sum(x);
  EXPECT_EQ(y.shape(), Shape({1}));
  EXPECT_NEAR(y.item(), s, 1e-5);
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return sum(v[0]); }, std::vector<Variable>{x});
}

TEST(MeanOp, ForwardAndBackward) {
  Variable x = random_param({3, 7}, 15);
  double s = 0.0;
  for (int64_t i = 0; i < x.numel(); ++i) s += x.data().at(i);
  EXPECT_NEAR(mean(x).item(), s / 21.0, 1e-6);
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return mean(v[0]); }, std::vector<Variable>{x});
  EXPECT_THROW(mean(random_param({0}, 16)), Error);
}

TEST(ReshapeOp, ViewWithInferredExtentAndBackward) {
  Variable x = random_param({3, 5, 7}, 17);
  Variable y = reshape(x, {-1, 7});
  EXPECT_EQ(y.shape(), Shape({15, 7}));
  EXPECT_TRUE(y.data().shares_storage(x.data()));
  // Followed by a position-dependent op so a misplaced gradient would show.
  Variable w = random_param({15, 7}, 18);
  EXPECT_GRADCHECK([w](const std::vector<Variable>& v) { return mul(reshape(v[0], {15, 7}), w); },
                   std::vector<Variable>{x});
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return reshape(v[0], {7, -1}); },
                   std::vector<Variable>{x});
}

TEST(ConcatLastOp, ForwardInterleavesRowsAndBackwardSplits) {
  Variable a = random_param({2, 3, 2}, 19), b = random_param({2, 3, 5}, 20), c = random_param({2, 3, 1}, 21);
  Variable y = concat_last({a, b, c});
  ASSERT_EQ(y.shape(), Shape({2, 3, 8}));
  for (int64_t r = 0; r < 6; ++r) {
    for (int64_t j = 0; j < 2; ++j) ASSERT_EQ(y.data().at(r * 8 + j), a.data().at(r * 2 + j));
    for (int64_t j = 0; j < 5; ++j) ASSERT_EQ(y.data().at(r * 8 + 2 + j), b.data().at(r * 5 + j));
    ASSERT_EQ(y.data().at(r * 8 + 7), c.data().at(r));
  }
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return concat_last({v[0], v[1], v[2]}); },
                   std::vector<Variable>({a, b, c}));
}

TEST(ConcatLastOp, ConstantPartGetsNoGradient) {
  Variable a = random_param({3, 2}, 22);
  Variable k(random_tensor({3, 4}, 23));
  EXPECT_GRADCHECK([k](const std::vector<Variable>& v) { return concat_last({k, v[0], k}); },
                   std::vector<Variable>{a});
  EXPECT_FALSE(k.grad().defined());
}

TEST(SliceLastOp, ForwardCopiesColumnsAndBackwardScatters) {
  Variable x = random_param({3, 5, 13}, 24);
  Variable y = slice_last(x, 4, 11);
  ASSERT_EQ(y.shape(), Shape({3, 5, 7}));
  for (int64_t r = 0; r < 15; ++r)
    for (int64_t j = 0; j < 7; ++j) ASSERT_EQ(y.data().at(r * 7 + j), x.data().at(r * 13 + 4 + j));
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return slice_last(v[0], 4, 11); }, std::vector<Variable>{x});
  // Two overlapping slices of the same input sum their gradients.
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) { return concat_last({slice_last(v[0], 0, 9), slice_last(v[0], 6, 13)}); },
      std::vector<Variable>{x});
  EXPECT_THROW(slice_last(x, 5, 14), Error);
  EXPECT_THROW(slice_last(x, 6, 5), Error);
}

TEST(ElementwiseOps, ComposedExpressionMatchesFiniteDifferences) {
  // (a ⊙ b + c) · 0.5 − a, with b broadcast: several ops and a shared input in one graph.
  std::vector<Variable> in{random_param({5, 7}, 25), random_param({7}, 26), random_param({5, 7}, 27)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return sub(scale(add(mul(v[0], v[1]), v[2]), 0.5f), v[0]); },
                   in);
}

}  // namespace
}  // namespace tfm
