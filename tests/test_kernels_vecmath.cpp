// The vectorisable exp/erf/tanh used by the elementwise kernels, against libm in double.
#include <cmath>
#include <limits>

#include "core/kernels/vecmath.h"
#include "test_util.h"

namespace tfm {
namespace {

TEST(VecMath, ExpIsWithinTwoUlpOfLibmOverTheNormalRange) {
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.01234f) {
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(vec::exp(x) - ref) / ref);
  }
  EXPECT_LT(worst, 2.5e-7);  // 2 ulp of float
}

TEST(VecMath, ExpOfMinusInfinityAndHugeNegativesIsZero) {
  EXPECT_EQ(vec::exp(-std::numeric_limits<float>::infinity()), 0.0f);
  EXPECT_EQ(vec::exp(-100.0f), 0.0f);
  EXPECT_EQ(vec::exp(0.0f), 1.0f);
  EXPECT_TRUE(std::isfinite(vec::exp(1000.0f)));
}

TEST(VecMath, ErfAndTanhHaveAbsoluteErrorBelowHalfAMillionth) {
  double erf_worst = 0.0, tanh_worst = 0.0;
  for (float x = -9.0f; x <= 9.0f; x += 0.001237f) {
    erf_worst = std::max(erf_worst, std::fabs(vec::erf(x) - std::erf(static_cast<double>(x))));
    tanh_worst = std::max(tanh_worst, std::fabs(vec::tanh(x) - std::tanh(static_cast<double>(x))));
  }
  EXPECT_LT(erf_worst, 5e-7);
  EXPECT_LT(tanh_worst, 2.5e-7);
  EXPECT_EQ(vec::erf(0.0f), 0.0f);
  EXPECT_EQ(vec::tanh(0.0f), 0.0f);
  EXPECT_FLOAT_EQ(vec::erf(-3.0f), -vec::erf(3.0f));
}

}  // namespace
}  // namespace tfm
