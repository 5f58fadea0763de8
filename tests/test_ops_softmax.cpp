// autograd/ops/softmax: softmax and log-softmax over the last dimension, and the
// composition of adaptive softmax log-probabilities.
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

// out[:, :s] = head[:, :s]; cluster i's columns = cluster_i + head[:, s + i], written as loops.
TEST(AdaptiveLogProbOp, ComposesTheHeadAndTheClustersColumnByColumn) {
  const int64_t rows = 7, shortlist = 5;
  const std::vector<int64_t> sizes{3, 13};
  const Variable head = random_param({rows, shortlist + 2}, 9);
  const std::vector<Variable> clusters{random_param({rows, 3}, 10), random_param({rows, 13}, 11)};
  const Variable out = adaptive_log_prob(head, clusters);
  ASSERT_EQ(out.shape(), Shape({rows, 21}));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < shortlist; ++j) ASSERT_EQ(out.data().at(r * 21 + j), head.data().at(r * 7 + j));
    int64_t column = shortlist;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < sizes[i]; ++j, ++column)
        ASSERT_EQ(out.data().at(r * 21 + column),
                  clusters[i].data().at(r * sizes[i] + j) + head.data().at(r * 7 + shortlist + i))
            << "row " << r << " cluster " << i << " column " << j;
  }
}

TEST(AdaptiveLogProbOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({7, 6}, 12), random_param({7, 3}, 13), random_param({7, 1}, 14),
                           random_param({7, 5}, 15)};
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) { return adaptive_log_prob(v[0], {v[1], v[2], v[3]}); }, in);
  // Through log-softmaxes, as the adaptive head uses it.
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) {
        return adaptive_log_prob(log_softmax(v[0]), {log_softmax(v[1]), log_softmax(v[2]), log_softmax(v[3])});
      },
      in);
}

TEST(AdaptiveLogProbOp, ShapeErrorsNameTheShapes) {
  const Variable head = random_param({4, 3}, 16);
  EXPECT_CONTAINS(error_message([&] { adaptive_log_prob(head, {random_param({4, 2}, 17), random_param({4, 2}, 18),
                                                                random_param({4, 2}, 19)}); }),
                  "the head must be [rows, shortlist + 3 clusters]");
  EXPECT_CONTAINS(error_message([&] { adaptive_log_prob(head, {random_param({5, 2}, 20)}); }),
                  "a cluster must be [4, size > 0], found [5, 2]");
}

}  // namespace
}  // namespace tfm
