// autograd/ops/rope: forward against the documented rotate-halves formula (heads
// past n_heads pass through), finite-difference gradients at a position offset,
// and its argument checks.
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/rope.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

struct Table {
  Tensor cos, sin;
};
Table table(int64_t positions, int64_t dh, double theta) {
  Table t{Tensor::empty({positions, dh / 2}), Tensor::empty({positions, dh / 2})};
  rope_table(t.cos.data(), t.sin.data(), positions, dh, theta);
  return t;
}

TEST(RopeOp, ForwardMatchesTheFormulaAndPassesTheOtherHeadsThrough) {
  const int64_t B = 2, T = 5, dh = 4, W = 5 * dh, offset = 2;  // 3 rotated heads, 2 passed through
  const double theta = 100.0;
  const Table t = table(offset + T, dh, theta);
  Variable x = random_param({B, T, W}, 1);
  const Tensor y = rope(x, t.cos, t.sin, 3, offset).data();
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t i = 0; i < dh / 2; ++i) {
        const float a = x.data().at(r * W + h * dh + i), b = x.data().at(r * W + h * dh + i + dh / 2);
        const double angle = h < 3 ? (offset + r % T) * std::pow(theta, -2.0 * i / dh) : 0.0;
        ASSERT_NEAR(y.at(r * W + h * dh + i), a * std::cos(angle) - b * std::sin(angle), 1e-5);
        ASSERT_NEAR(y.at(r * W + h * dh + i + dh / 2), b * std::cos(angle) + a * std::sin(angle), 1e-5);
      }
}

TEST(RopeOp, GradcheckAtAnOffset) {
  const Table t = table(9, 6, 10000.0);
  std::vector<Variable> in{random_param({2, 3, 6 * 3 + 6}, 2, -2.0f, 2.0f)};
  EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return rope(v[0], t.cos, t.sin, 3, 5); }, in);
}

TEST(RopeOp, InvalidArgumentsNameTheProblem) {
  const Table t = table(4, 6, 10000.0);
  Variable x = random_param({1, 3, 12}, 3);
  EXPECT_CONTAINS(error_message([&] { rope(x, t.cos, t.sin, 3, 0); }), "3 heads of 6 columns do not fit in width 12");
  EXPECT_CONTAINS(error_message([&] { rope(x, t.cos, t.sin, 2, 2); }), "exceed the table's 4");
}

}  // namespace
}  // namespace tfm
