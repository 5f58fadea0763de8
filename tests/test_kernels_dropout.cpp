// core/kernels/dropout: inverted dropout with a Philox mask regenerated in the backward.
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/kernels/dropout.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr uint64_t kSeed = 1234;

// Inputs in [1, 2): a dropped element (0) is never confused with a kept one.
Tensor positive_input(int64_t n, uint64_t seed) { return random_tensor({n}, seed, 1.0f, 2.0f); }

TEST(Dropout, DropsAboutPAndScalesKeptValues) {
  const int64_t n = 40001;
  Tensor x = positive_input(n, 1);
  for (float p : {0.1f, 0.5f, 0.9f}) {
    Tensor out = Tensor::empty({n});
    dropout_forward(out.data(), x.data(), n, p, kSeed, 17);
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (out.at(i) == 0.0f) {
        ++dropped;
      } else {
        ASSERT_FLOAT_EQ(out.at(i), x.at(i) / (1.0f - p)) << "p = " << p << " at " << i;
      }
    }
    // Binomial: std of the fraction ≤ 0.5/√n ≈ 0.0025.
    EXPECT_NEAR(static_cast<double>(dropped) / n, p, 0.015) << "p = " << p;
  }
}

TEST(Dropout, ZeroProbabilityIsIdentity) {
  const int64_t n = 33;
  Tensor x = random_tensor({n}, 2), out = Tensor::empty({n});
  dropout_forward(out.data(), x.data(), n, 0.0f, kSeed, 0);
  expect_close(out, x, 0.0f);
}

TEST(Dropout, IdenticalWithOneAndTwoThreads) {
  const int64_t n = 50003;  // above the parallel threshold, partial last block
  Tensor x = positive_input(n, 3), dout = random_tensor({n}, 4);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> outs, grads;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    Tensor out = Tensor::empty({n}), dx = Tensor::zeros({n});
    dropout_forward(out.data(), x.data(), n, 0.3f, kSeed, 5);
    dropout_backward(dx.data(), dout.data(), n, 0.3f, kSeed, 5);
    outs.emplace_back(out.data(), out.data() + n);
    grads.emplace_back(dx.data(), dx.data() + n);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(outs[0], outs[1]);
  EXPECT_EQ(grads[0], grads[1]);
}

TEST(Dropout, BackwardUsesTheForwardMaskAndAccumulates) {
  for (int64_t n : {int64_t{13}, int64_t{20011}}) {
    Tensor x = positive_input(n, 5), dout = random_tensor({n}, 6, 1.0f, 2.0f);
    Tensor out = Tensor::empty({n});
    dropout_forward(out.data(), x.data(), n, 0.4f, kSeed, 99);
    Tensor dx = random_tensor({n}, 7), dx0 = dx.copy();
    dropout_backward(dx.data(), dout.data(), n, 0.4f, kSeed, 99);
    for (int64_t i = 0; i < n; ++i) {
      const bool kept = out.at(i) != 0.0f;
      const float expected = dx0.at(i) + (kept ? dout.at(i) / 0.6f : 0.0f);
      ASSERT_NEAR(dx.at(i), expected, 1e-6) << "at " << i;
    }
  }
}

TEST(Dropout, MaskDependsOnSeedAndBlockOffset) {
  const int64_t n = 1001;
  Tensor x = positive_input(n, 8);
  Tensor a = Tensor::empty({n}), b = Tensor::empty({n}), c = Tensor::empty({n}), d = Tensor::empty({n});
  dropout_forward(a.data(), x.data(), n, 0.5f, kSeed, 0);
  dropout_forward(b.data(), x.data(), n, 0.5f, kSeed, 0);
  dropout_forward(c.data(), x.data(), n, 0.5f, kSeed, dropout_blocks(n));
  dropout_forward(d.data(), x.data(), n, 0.5f, kSeed + 1, 0);
  int same_ac = 0, same_ad = 0;
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(a.at(i), b.at(i));
    same_ac += (a.at(i) == 0.0f) == (c.at(i) == 0.0f);
    same_ad += (a.at(i) == 0.0f) == (d.at(i) == 0.0f);
  }
  // Independent masks agree on about half the elements.
  EXPECT_LT(same_ac, 0.6 * n);
  EXPECT_LT(same_ad, 0.6 * n);
  EXPECT_EQ(dropout_blocks(13), 4u);
  EXPECT_EQ(dropout_blocks(16), 4u);
}

}  // namespace
}  // namespace tfm
