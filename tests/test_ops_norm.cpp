// autograd/ops/norm: layer_norm and rms_norm forward and finite-difference
// gradients with and without the elementwise affine.
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(LayerNormOp, ForwardNormalisesEachRowThenAppliesAffine) {
  Variable x = random_param({3, 5, 13}, 1, -2.0f, 3.0f);
  Variable gamma = random_param({13}, 2, 0.5f, 1.5f), beta = random_param({13}, 3);
  Variable y = layer_norm(x, gamma, beta, 1e-5f);
  ASSERT_EQ(y.shape(), x.shape());
  for (int64_t r = 0; r < 15; ++r) {
    const float* xr = x.data().data() + r * 13;
    double m = 0.0, var = 0.0;
    for (int j = 0; j < 13; ++j) m += xr[j] / 13.0;
    for (int j = 0; j < 13; ++j) var += (xr[j] - m) * (xr[j] - m) / 13.0;
    for (int j = 0; j < 13; ++j) {
      const double expected = (xr[j] - m) / std::sqrt(var + 1e-5) * gamma.data().at(j) + beta.data().at(j);
      ASSERT_NEAR(y.data().at(r * 13 + j), expected, 2e-5);
    }
  }
}

TEST(LayerNormOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({5, 13}, 4, -2.0f, 3.0f), random_param({13}, 5, 0.5f, 1.5f),
                           random_param({13}, 6)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return layer_norm(v[0], v[1], v[2], 1e-5f); }, in);
}

TEST(LayerNormOp, BackwardMatchesFiniteDifferencesOn3DInput) {
  std::vector<Variable> in{random_param({2, 3, 33}, 7), random_param({33}, 8, 0.5f, 1.5f), random_param({33}, 9)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return layer_norm(v[0], v[1], v[2], 1e-5f); }, in);
}

TEST(LayerNormOp, BackwardWithoutAffine) {
  std::vector<Variable> in{random_param({7, 13}, 10)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return layer_norm(v[0], Variable(), Variable(), 1e-5f); }, in);
}

TEST(LayerNormOp, BackwardWithGammaOnly) {
  std::vector<Variable> in{random_param({7, 13}, 11), random_param({13}, 12, 0.5f, 1.5f)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return layer_norm(v[0], v[1], Variable(), 1e-5f); }, in);
}

TEST(LayerNormOp, BackwardToParametersOnlyWithConstantInput) {
  Variable x(random_tensor({7, 13}, 13));
  std::vector<Variable> in{random_param({13}, 14, 0.5f, 1.5f), random_param({13}, 15)};
  EXPECT_GRADCHECK([x](const std::vector<Variable>& v) { return layer_norm(x, v[0], v[1], 1e-5f); }, in);
}

TEST(LayerNormOp, WrongParameterShapeThrows) {
  Variable x = random_param({3, 7}, 16);
  EXPECT_THROW(layer_norm(x, random_param({6}, 17), Variable(), 1e-5f), Error);
  EXPECT_THROW(layer_norm(x, random_param({7}, 17), random_param({7, 1}, 18), 1e-5f), Error);
}

TEST(RmsNormOp, ForwardScalesEachRowByItsRootMeanSquareThenAppliesAffine) {
  Variable x = random_param({3, 5, 13}, 31, -2.0f, 3.0f);
  Variable gamma = random_param({13}, 32, 0.5f, 1.5f), beta = random_param({13}, 33);
  const float eps = 0.3f;  // large: a kernel that drops eps is off by far more than the tolerance
  Variable y = rms_norm(x, gamma, beta, eps);
  ASSERT_EQ(y.shape(), x.shape());
  for (int64_t r = 0; r < 15; ++r) {
    const float* xr = x.data().data() + r * 13;
    double sq = 0.0;
    for (int j = 0; j < 13; ++j) sq += double(xr[j]) * xr[j] / 13.0;
    for (int j = 0; j < 13; ++j) {
      const double expected = xr[j] / std::sqrt(sq + eps) * gamma.data().at(j) + beta.data().at(j);
      ASSERT_NEAR(y.data().at(r * 13 + j), expected, 2e-5);
    }
  }
}

TEST(RmsNormOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({5, 13}, 34, -2.0f, 3.0f), random_param({13}, 35, 0.5f, 1.5f),
                           random_param({13}, 36)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return rms_norm(v[0], v[1], v[2], 1e-5f); }, in);
}

TEST(RmsNormOp, BackwardWithWeightOnlyOn3DInputAndLargeEps) {
  std::vector<Variable> in{random_param({2, 3, 33}, 37), random_param({33}, 38, 0.5f, 1.5f)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return rms_norm(v[0], v[1], Variable(), 0.2f); }, in);
}

TEST(RmsNormOp, BackwardWithoutAffineAndWrongShapesThrow) {
  std::vector<Variable> in{random_param({7, 13}, 39)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return rms_norm(v[0], Variable(), Variable(), 1e-5f); }, in);
  Variable x = random_param({3, 7}, 40);
  EXPECT_CONTAINS(error_message([&] { rms_norm(x, random_param({6}, 41), Variable(), 1e-5f); }),
                  "rms_norm: weight [6] does not match input [3, 7]");
}

}  // namespace
}  // namespace tfm
