// core/kernels/loss: fused cross-entropy against a naive double reference with
// PyTorch semantics (ignore_index, label smoothing), and PaLM's z-loss.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/kernels/loss.h"
#include "core/kernels/vecmath.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr int32_t kIgnore = -100;

struct RowRef {
  double lse, loss;
  std::vector<double> grad;  // ∂loss/∂logits of the row
};

// PyTorch nn.CrossEntropyLoss for one row: log p_j = x_j − lse,
// loss = (1−ε)·(−log p_y) + ε·mean_j(−log p_j), ∂loss/∂x_j = p_j − ((1−ε)·[j = y] + ε/V).
RowRef row_ref(const float* x, int64_t vocab, int32_t target, double eps) {
  double mx = x[0];
  for (int64_t j = 1; j < vocab; ++j) mx = std::max(mx, static_cast<double>(x[j]));
  double sum = 0.0;
  for (int64_t j = 0; j < vocab; ++j) sum += std::exp(x[j] - mx);
  RowRef r{mx + std::log(sum), 0.0, std::vector<double>(vocab)};
  double mean_nll = 0.0;
  for (int64_t j = 0; j < vocab; ++j) mean_nll += (r.lse - x[j]) / vocab;
  r.loss = (1.0 - eps) * (r.lse - x[target]) + eps * mean_nll;
  for (int64_t j = 0; j < vocab; ++j)
    r.grad[j] = std::exp(x[j] - r.lse) - ((1.0 - eps) * (j == target) + eps / vocab);
  return r;
}

struct LossCase {
  int64_t rows, vocab;
  float label_smoothing;
};

// Odd shapes; the last exceeds the parallel threshold.
const std::vector<LossCase> kCases{{7, 13, 0.0f}, {13, 33, 0.1f}, {1, 7, 0.3f}, {97, 129, 0.05f}};

// Targets with every third row ignored (row 0 always counted).
std::vector<int32_t> make_targets(int64_t rows, int64_t vocab, uint64_t seed) {
  Tensor t = random_ids({rows}, static_cast<int32_t>(vocab), seed);
  std::vector<int32_t> targets(t.data_i32(), t.data_i32() + rows);
  for (int64_t r = 2; r < rows; r += 3) targets[r] = kIgnore;
  return targets;
}

TEST(CrossEntropy, ForwardMatchesNaiveWithIgnoreIndexAndLabelSmoothing) {
  for (const LossCase& c : kCases) {
    Tensor logits = random_tensor({c.rows, c.vocab}, 1, -4.0f, 4.0f);
    std::vector<int32_t> targets = make_targets(c.rows, c.vocab, 2);
    Tensor lse = Tensor::empty({c.rows}), row_loss = Tensor::empty({c.rows});
    for (bool with_row_loss : {true, false}) {
      CrossEntropyResult res = cross_entropy_forward(lse.data(), with_row_loss ? row_loss.data() : nullptr,
                                                     logits.data(), targets.data(), c.rows, c.vocab, kIgnore,
                                                     c.label_smoothing);
      double sum = 0.0, lse_sq = 0.0;
      int64_t count = 0;
      for (int64_t r = 0; r < c.rows; ++r) {
        const float* x = logits.data() + r * c.vocab;
        const bool ignored = targets[r] == kIgnore;
        const RowRef ref = row_ref(x, c.vocab, ignored ? 0 : targets[r], c.label_smoothing);
        ASSERT_NEAR(lse.at(r), ref.lse, 1e-5 * (1.0 + std::fabs(ref.lse)));
        if (with_row_loss) {
          ASSERT_NEAR(row_loss.at(r), ignored ? 0.0 : ref.loss, 1e-4);
        }
        if (!ignored) sum += ref.loss, lse_sq += ref.lse * ref.lse, ++count;
      }
      EXPECT_EQ(res.count, count);
      EXPECT_NEAR(res.loss_sum, sum, 1e-4 * count);
      EXPECT_NEAR(res.lse_sq_sum, lse_sq, 1e-5 * lse_sq);
      EXPECT_NEAR(res.loss_sum / res.count, sum / count, 1e-5);  // the mean over non-ignored rows
    }
  }
}

TEST(CrossEntropy, EverythingIgnoredCountsNothing) {
  Tensor logits = random_tensor({3, 5}, 3), lse = Tensor::empty({3});
  std::vector<int32_t> targets{kIgnore, kIgnore, kIgnore};
  CrossEntropyResult res =
      cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), 3, 5, kIgnore, 0.1f);
  EXPECT_EQ(res.count, 0);
  EXPECT_EQ(res.loss_sum, 0.0);
}

TEST(CrossEntropy, CustomIgnoreIndexIsHonoured) {
  // ignore_index may be a valid class id (e.g. a padding token 0).
  const int64_t rows = 4, vocab = 5;
  Tensor logits = random_tensor({rows, vocab}, 4), lse = Tensor::empty({rows});
  std::vector<int32_t> targets{0, 3, 0, 4};
  CrossEntropyResult res =
      cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), rows, vocab, 0, 0.0f);
  EXPECT_EQ(res.count, 2);
  const double expected = row_ref(logits.data() + vocab, vocab, 3, 0.0).loss +
                          row_ref(logits.data() + 3 * vocab, vocab, 4, 0.0).loss;
  EXPECT_NEAR(res.loss_sum, expected, 1e-5);
}

TEST(CrossEntropy, OutOfRangeTargetThrows) {
  Tensor logits = random_tensor({3, 5}, 5), lse = Tensor::empty({3});
  for (int32_t bad : {5, -1, 1000}) {
    std::vector<int32_t> targets{0, bad, kIgnore};
    EXPECT_THROW(cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), 3, 5, kIgnore, 0.0f),
                 Error)
        << "target " << bad;
  }
}

TEST(CrossEntropy, LargeLogitsStayFinite) {
  std::vector<float> logits{1000.0f, -1000.0f, 0.0f};
  std::vector<int32_t> targets{1};
  float lse = 0.0f, row_loss = 0.0f;
  CrossEntropyResult res =
      cross_entropy_forward(&lse, &row_loss, logits.data(), targets.data(), 1, 3, kIgnore, 0.0f);
  EXPECT_NEAR(res.loss_sum, 2000.0, 1e-2);
  EXPECT_NEAR(lse, 1000.0f, 1e-3);
}

TEST(CrossEntropy, BackwardAccumulatesScaledSoftmaxMinusSmoothedTarget) {
  for (const LossCase& c : kCases) {
    Tensor logits = random_tensor({c.rows, c.vocab}, 6, -4.0f, 4.0f);
    std::vector<int32_t> targets = make_targets(c.rows, c.vocab, 7);
    Tensor lse = Tensor::empty({c.rows});
    CrossEntropyResult res = cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), c.rows,
                                                   c.vocab, kIgnore, c.label_smoothing);
    const float grad_scale = 0.7f / static_cast<float>(res.count);
    Tensor d = random_tensor({c.rows, c.vocab}, 8), d0 = d.copy();
    cross_entropy_backward(d.data(), logits.data(), lse.data(), targets.data(), c.rows, c.vocab, kIgnore,
                           c.label_smoothing, grad_scale);
    for (int64_t r = 0; r < c.rows; ++r) {
      const bool ignored = targets[r] == kIgnore;
      const RowRef ref = row_ref(logits.data() + r * c.vocab, c.vocab, ignored ? 0 : targets[r], c.label_smoothing);
      for (int64_t j = 0; j < c.vocab; ++j) {
        const int64_t k = r * c.vocab + j;
        const double expected = d0.at(k) + (ignored ? 0.0 : grad_scale * ref.grad[j]);
        ASSERT_NEAR(d.at(k), expected, 1e-6) << "row " << r << " col " << j;
      }
    }
  }
}

// With the z-loss z·lse², each counted row's gradient gains 2·z·lse·softmax_j (naive double).
TEST(CrossEntropy, BackwardWithZLossAddsTwoZLseTimesSoftmax) {
  for (const LossCase& c : kCases) {
    Tensor logits = random_tensor({c.rows, c.vocab}, 9, -4.0f, 4.0f);
    std::vector<int32_t> targets = make_targets(c.rows, c.vocab, 10);
    Tensor lse = Tensor::empty({c.rows});
    cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), c.rows, c.vocab, kIgnore,
                          c.label_smoothing);
    const float grad_scale = 0.3f, z = 0.05f;
    Tensor d = random_tensor({c.rows, c.vocab}, 11), d0 = d.copy();
    cross_entropy_backward(d.data(), logits.data(), lse.data(), targets.data(), c.rows, c.vocab, kIgnore,
                           c.label_smoothing, grad_scale, z);
    for (int64_t r = 0; r < c.rows; ++r) {
      const bool ignored = targets[r] == kIgnore;
      const float* x = logits.data() + r * c.vocab;
      const RowRef ref = row_ref(x, c.vocab, ignored ? 0 : targets[r], c.label_smoothing);
      for (int64_t j = 0; j < c.vocab; ++j) {
        const int64_t k = r * c.vocab + j;
        const double z_grad = 2.0 * z * ref.lse * std::exp(x[j] - ref.lse);
        const double expected = d0.at(k) + (ignored ? 0.0 : grad_scale * (ref.grad[j] + z_grad));
        ASSERT_NEAR(d.at(k), expected, 2e-6) << "row " << r << " col " << j;
      }
    }
  }
}

// The backward as it was before the z-loss, verbatim: with z_loss 0 the kernel must give the same bits.
void backward_before_z_loss(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            int64_t rows, int64_t vocab, int32_t ignore_index, float label_smoothing,
                            float grad_scale) {
  const float uniform = label_smoothing / static_cast<float>(vocab);
#pragma omp parallel for schedule(static) if (rows * vocab > (1 << 13))
  for (int64_t r = 0; r < rows; ++r) {
    if (targets[r] == ignore_index) continue;
    const float* x = logits + r * vocab;
    float* d = dlogits + r * vocab;
    const float l = lse[r];
#pragma omp simd
    for (int64_t j = 0; j < vocab; ++j) d[j] += grad_scale * (vec::exp(x[j] - l) - uniform);
    d[targets[r]] -= grad_scale * (1.0f - label_smoothing);
  }
}

TEST(CrossEntropy, ZeroZLossBackwardIsBitwiseTheCrossEntropyBackward) {
  for (const LossCase& c : kCases) {
    Tensor logits = random_tensor({c.rows, c.vocab}, 12, -4.0f, 4.0f);
    std::vector<int32_t> targets = make_targets(c.rows, c.vocab, 13);
    Tensor lse = Tensor::empty({c.rows});
    cross_entropy_forward(lse.data(), nullptr, logits.data(), targets.data(), c.rows, c.vocab, kIgnore,
                          c.label_smoothing);
    Tensor d = random_tensor({c.rows, c.vocab}, 14), before = d.copy();
    cross_entropy_backward(d.data(), logits.data(), lse.data(), targets.data(), c.rows, c.vocab, kIgnore,
                           c.label_smoothing, 0.3f, 0.0f);
    backward_before_z_loss(before.data(), logits.data(), lse.data(), targets.data(), c.rows, c.vocab, kIgnore,
                           c.label_smoothing, 0.3f);
    EXPECT_EQ(std::memcmp(d.data(), before.data(), d.nbytes()), 0) << c.rows << "x" << c.vocab;
  }
}

}  // namespace
}  // namespace tfm
