// autograd/ops/loss: mean cross-entropy over non-ignored targets (PyTorch
// semantics), value and finite-difference gradient to the logits.
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/loss.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr int32_t kIgnore = -100;

// Mean over non-ignored rows of (1−ε)·(−log p_y) + ε·mean_j(−log p_j), in double.
double naive_loss(const Tensor& logits, const std::vector<int32_t>& targets, int32_t ignore, double eps) {
  const int64_t vocab = logits.shape().last();
  double total = 0.0;
  int64_t count = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] == ignore) continue;
    const float* x = logits.data() + r * vocab;
    double sum = 0.0;
    for (int64_t j = 0; j < vocab; ++j) sum += std::exp(static_cast<double>(x[j]));
    const double lse = std::log(sum);
    double smooth = 0.0;
    for (int64_t j = 0; j < vocab; ++j) smooth += (lse - x[j]) / vocab;
    total += (1.0 - eps) * (lse - x[targets[r]]) + eps * smooth;
    ++count;
  }
  return count ? total / count : 0.0;
}

Tensor targets_with_ignored(const Shape& shape, int32_t vocab, uint64_t seed) {
  Tensor t = random_ids(shape, vocab, seed);
  for (int64_t i = 1; i < t.numel(); i += 3) t.data_i32()[i] = kIgnore;
  return t;
}

TEST(CrossEntropyOp, ForwardMatchesNaiveMeanOverCountedRows) {
  Variable logits = random_param({3, 5, 13}, 1, -3.0f, 3.0f);
  Tensor targets = targets_with_ignored({3, 5}, 13, 2);
  std::vector<int32_t> t(targets.data_i32(), targets.data_i32() + 15);
  for (float eps : {0.0f, 0.1f}) {
    int64_t count = -1;
    Variable loss = cross_entropy(logits, targets, {kIgnore, eps}, &count);
    EXPECT_EQ(loss.shape(), Shape({1}));
    EXPECT_EQ(count, 10);
    EXPECT_NEAR(loss.item(), naive_loss(logits.data(), t, kIgnore, eps), 1e-5);
  }
}

TEST(CrossEntropyOp, BackwardMatchesFiniteDifferences) {
  Tensor targets = random_ids({7}, 13, 3);
  std::vector<Variable> in{random_param({7, 13}, 4, -2.0f, 2.0f)};
  EXPECT_GRADCHECK([targets](const std::vector<Variable>& v) { return cross_entropy(v[0], targets); }, in);
}

TEST(CrossEntropyOp, BackwardMatchesFiniteDifferencesWithIgnoreIndexAndLabelSmoothing) {
  Tensor targets = targets_with_ignored({2, 5}, 33, 5);
  std::vector<Variable> in{random_param({2, 5, 33}, 6, -2.0f, 2.0f)};
  EXPECT_GRADCHECK(
      [targets](const std::vector<Variable>& v) { return cross_entropy(v[0], targets, {kIgnore, 0.1f}); }, in);
}

TEST(CrossEntropyOp, BackwardThroughLinearHeadWithPaddingIdIgnored) {
  // A language-model head: logits = x·Wᵀ, padding id 0 ignored, ε = 0.2.
  Tensor targets = Tensor::from_ids({7}, std::vector<int32_t>{3, 0, 5, 12, 0, 1, 7});
  std::vector<Variable> in{random_param({7, 5}, 7), random_param({13, 5}, 8)};
  EXPECT_GRADCHECK(
      [targets](const std::vector<Variable>& v) {
        return cross_entropy(linear(v[0], v[1], Variable()), targets, {0, 0.2f});
      },
      in);
}

TEST(CrossEntropyOp, IgnoredRowsGetZeroGradient) {
  Variable logits = random_param({4, 7}, 9);
  Tensor targets = Tensor::from_ids({4}, std::vector<int32_t>{kIgnore, 2, kIgnore, 6});
  cross_entropy(logits, targets, {kIgnore, 0.1f}).backward();
  for (int64_t j = 0; j < 7; ++j) {
    EXPECT_EQ(logits.grad().at(0 * 7 + j), 0.0f);
    EXPECT_EQ(logits.grad().at(2 * 7 + j), 0.0f);
  }
  // Each counted row's gradient sums to zero (softmax minus a distribution).
  for (int64_t r : {1, 3}) {
    double s = 0.0;
    for (int64_t j = 0; j < 7; ++j) s += logits.grad().at(r * 7 + j);
    EXPECT_NEAR(s, 0.0, 1e-6);
  }
}

// PaLM's z-loss: mean over counted rows of CE + z·lse², in double; the parts reported apart.
TEST(CrossEntropyOp, ZLossAddsZTimesMeanSquaredLogSumExp) {
  Variable logits = random_param({3, 5, 13}, 21, -3.0f, 3.0f);
  Tensor targets = targets_with_ignored({3, 5}, 13, 22);
  std::vector<int32_t> t(targets.data_i32(), targets.data_i32() + 15);
  double lse_sq = 0.0;
  int64_t counted = 0;
  for (size_t r = 0; r < t.size(); ++r) {
    if (t[r] == kIgnore) continue;
    double sum = 0.0;
    for (int64_t j = 0; j < 13; ++j) sum += std::exp(static_cast<double>(logits.data().at(r * 13 + j)));
    lse_sq += std::log(sum) * std::log(sum);
    ++counted;
  }
  for (float eps : {0.0f, 0.1f}) {
    const double ce = naive_loss(logits.data(), t, kIgnore, eps), z_term = 1e-2 * lse_sq / counted;
    CrossEntropyTerms terms;
    Variable loss = cross_entropy(logits, targets, {kIgnore, eps, 1e-2f, &terms});
    EXPECT_NEAR(loss.item(), ce + z_term, 1e-5);
    EXPECT_NEAR(terms.cross_entropy, ce, 1e-5);
    EXPECT_NEAR(terms.z_loss, z_term, 1e-7);
    EXPECT_EQ(terms.count, counted);
    // z 0: the cross-entropy alone, the same bits as the kernel's mean.
    Tensor lse = Tensor::empty({15});
    const CrossEntropyResult r = cross_entropy_forward(lse.data(), nullptr, logits.data().data(), targets.data_i32(),
                                                       15, 13, kIgnore, eps);
    EXPECT_EQ(cross_entropy(logits, targets, {kIgnore, eps, 0.0f, &terms}).item(),
              static_cast<float>(r.loss_sum / r.count));
    EXPECT_EQ(terms.z_loss, 0.0);
  }
}

TEST(CrossEntropyOp, ZLossBackwardMatchesFiniteDifferences) {
  Tensor targets = targets_with_ignored({2, 7}, 13, 23);
  std::vector<Variable> in{random_param({2, 7, 13}, 24, -3.0f, 3.0f)};
  EXPECT_GRADCHECK(
      [targets](const std::vector<Variable>& v) { return cross_entropy(v[0], targets, {kIgnore, 0.1f, 0.05f}); }, in);
  // Through a head, so that the z-loss's gradient reaches weights.
  Tensor ids = random_ids({7}, 13, 25);
  std::vector<Variable> head{random_param({7, 5}, 26), random_param({13, 5}, 27)};
  EXPECT_GRADCHECK(
      [ids](const std::vector<Variable>& v) {
        return cross_entropy(linear(v[0], v[1], Variable()), ids, {kIgnore, 0.0f, 0.2f});
      },
      head);
}

TEST(CrossEntropyOp, AllTargetsIgnoredGivesZeroLossAndZeroGradient) {
  Variable logits = random_param({3, 5}, 10);
  Tensor targets = Tensor::from_ids({3}, std::vector<int32_t>{kIgnore, kIgnore, kIgnore});
  int64_t count = -1;
  Variable loss = cross_entropy(logits, targets, {}, &count);
  EXPECT_EQ(count, 0);
  EXPECT_EQ(loss.item(), 0.0f);
  loss.backward();
  for (int64_t i = 0; i < logits.numel(); ++i) EXPECT_EQ(logits.grad().at(i), 0.0f);
}

TEST(CrossEntropyOp, BadTargetsOrOptionsThrow) {
  Variable logits = random_param({3, 5}, 11);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({3}, std::vector<int32_t>{0, 5, 1})), Error);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({3}, std::vector<int32_t>{0, -1, 1})), Error);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({2}, std::vector<int32_t>{0, 1})), Error);
  EXPECT_THROW(cross_entropy(logits, Tensor::zeros({3})), Error);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_ids({3}, std::vector<int32_t>{0, 1, 2}), {kIgnore, 1.5f}), Error);
  EXPECT_CONTAINS(error_message([&] {
                    cross_entropy(logits, Tensor::from_ids({3}, std::vector<int32_t>{0, 1, 2}), {kIgnore, 0.0f, -1.0f});
                  }),
                  "z_loss must be >= 0, found -1");
}

}  // namespace
}  // namespace tfm
