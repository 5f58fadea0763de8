// autograd/ops/softmax: softmax and log-softmax over the last dimension.
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(SoftmaxOp, ForwardRowsSumToOneOverLastDimension) {
  Variable x = random_param({3, 5, 7}, 1, -3.0f, 3.0f);
  Variable p = softmax(x), lp = log_softmax(x);
  ASSERT_EQ(p.shape(), x.shape());
  for (int64_t r = 0; r < 15; ++r) {
    double total = 0.0;
    for (int64_t j = 0; j < 7; ++j) {
      total += p.data().at(r * 7 + j);
      ASSERT_NEAR(lp.data().at(r * 7 + j), std::log(p.data().at(r * 7 + j)), 1e-5);
    }
    ASSERT_NEAR(total, 1.0, 1e-5);
  }
}

TEST(SoftmaxOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({3, 5, 7}, 2, -3.0f, 3.0f)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return softmax(v[0]); }, in);
}

TEST(SoftmaxOp, BackwardMatchesFiniteDifferencesOnAWideRow) {
  std::vector<Variable> in{random_param({2, 33}, 3, -2.0f, 2.0f)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return softmax(v[0]); }, in);
}

TEST(LogSoftmaxOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({3, 5, 7}, 4, -3.0f, 3.0f)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return log_softmax(v[0]); }, in);
}

TEST(SoftmaxOp, AttentionLikeCompositionMatchesFiniteDifferences) {
  // softmax(q·kᵀ)·v, batched: softmax's backward feeds and is fed by matmuls.
  std::vector<Variable> in{random_param({2, 5, 3}, 5), random_param({2, 7, 3}, 6), random_param({2, 7, 3}, 7)};
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) { return matmul(softmax(matmul(v[0], v[1], false, true)), v[2]); }, in);
}

TEST(SoftmaxOp, SingleColumnIsConstantOne) {
  Variable x = random_param({7, 1}, 8);
  Variable p = softmax(x);
  for (int64_t i = 0; i < 7; ++i) EXPECT_EQ(p.data().at(i), 1.0f);
  sum(p).backward();
  for (int64_t i = 0; i < 7; ++i) EXPECT_NEAR(x.grad().at(i), 0.0f, 1e-7);
}

}  // namespace
}  // namespace tfm
