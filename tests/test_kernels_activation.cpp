// core/kernels/activation: each activation and its derivative against the
// formula evaluated in double; backward kernels must accumulate.
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/kernels/activation.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

using Forward = void (*)(float*, const float*, int64_t);
using Backward = void (*)(float*, const float*, const float*, int64_t);
using Reference = std::function<double(double)>;

constexpr double kPi = 3.14159265358979323846;

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
double gelu_grad_ref(double x) {
  return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * kPi);
}
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (x + 0.044715 * x * x * x)));
}
double gelu_tanh_grad_ref(double x) {
  const double c = std::sqrt(2.0 / kPi), u = c * (x + 0.044715 * x * x * x), t = std::tanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
}
double sigmoid_ref(double x) { return 1.0 / (1.0 + std::exp(-x)); }

struct ActivationCase {
  std::string name;
  Forward forward;
  Backward backward;
  bool backward_uses_output;  // tanh, sigmoid: backward reads the forward output
  Reference f, df;
};

std::vector<ActivationCase> cases() {
  return {
      {"Gelu", gelu_forward, gelu_backward, false, gelu_ref, gelu_grad_ref},
      {"GeluTanh", gelu_tanh_forward, gelu_tanh_backward, false, gelu_tanh_ref, gelu_tanh_grad_ref},
      {"Relu", relu_forward, relu_backward, false, [](double x) { return x > 0 ? x : 0.0; },
       [](double x) { return x > 0 ? 1.0 : 0.0; }},
      {"Tanh", tanh_forward, tanh_backward, true, [](double x) { return std::tanh(x); },
       [](double x) { return 1.0 - std::tanh(x) * std::tanh(x); }},
      {"Sigmoid", sigmoid_forward, sigmoid_backward, true, sigmoid_ref,
       [](double x) { return sigmoid_ref(x) * (1.0 - sigmoid_ref(x)); }},
  };
}

void PrintTo(const ActivationCase& c, std::ostream* os) { *os << c.name; }

class ActivationTest : public ::testing::TestWithParam<ActivationCase> {};

// n = 33 takes the serial path, n = 20011 the OpenMP one.
TEST_P(ActivationTest, ForwardMatchesFormulaInDouble) {
  const ActivationCase& c = GetParam();
  for (int64_t n : {33, 20011}) {
    Tensor x = random_tensor({n}, 1, -6.0f, 6.0f);
    Tensor out = Tensor::empty({n});
    c.forward(out.data(), x.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double expected = c.f(x.at(i));
      ASSERT_NEAR(out.at(i), expected, 2e-6 + 2e-6 * std::fabs(expected)) << "x = " << x.at(i);
    }
  }
}

TEST_P(ActivationTest, BackwardAccumulatesDerivativeTimesUpstream) {
  const ActivationCase& c = GetParam();
  for (int64_t n : {33, 20011}) {
    Tensor x = random_tensor({n}, 2, -6.0f, 6.0f);
    Tensor dout = random_tensor({n}, 3);
    Tensor dx = random_tensor({n}, 4);
    Tensor before = dx.copy();
    Tensor out = Tensor::empty({n});
    c.forward(out.data(), x.data(), n);
    c.backward(dx.data(), dout.data(), c.backward_uses_output ? out.data() : x.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double expected = before.at(i) + dout.at(i) * c.df(x.at(i));
      ASSERT_NEAR(dx.at(i), expected, 1e-5 + 1e-5 * std::fabs(expected)) << "x = " << x.at(i);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, ActivationTest, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(Activation, GeluTanhStaysCloseToExactGelu) {
  // The tanh form approximates x·Φ(x) to about 1e-3 (Hendrycks & Gimpel 2016).
  const int64_t n = 401;
  Tensor x = Tensor::empty({n});
  for (int64_t i = 0; i < n; ++i) x.data()[i] = -5.0f + 0.025f * static_cast<float>(i);
  Tensor a = Tensor::empty({n}), b = Tensor::empty({n});
  gelu_forward(a.data(), x.data(), n);
  gelu_tanh_forward(b.data(), x.data(), n);
  expect_close(a, b, 1e-3f);
}

TEST(Activation, SaturatesWithoutNaNForLargeInputs) {
  std::vector<float> xs{-100.0f, -30.0f, 30.0f, 100.0f};
  const int64_t n = static_cast<int64_t>(xs.size());
  for (const ActivationCase& c : cases()) {
    std::vector<float> out(n), dx(n, 0.0f), dout(n, 1.0f);
    c.forward(out.data(), xs.data(), n);
    c.backward(dx.data(), dout.data(), c.backward_uses_output ? out.data() : xs.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_TRUE(std::isfinite(out[i])) << c.name << " at " << xs[i];
      EXPECT_TRUE(std::isfinite(dx[i])) << c.name << " at " << xs[i];
      EXPECT_NEAR(dx[i], c.df(xs[i]), 1e-6) << c.name << " at " << xs[i];
    }
  }
}

}  // namespace
}  // namespace tfm
