// autograd/gradcheck checks itself: ops with a deliberately wrong backward pass
// (a gradient scaled by 1.01, a missing product-rule term, a transposed
// gradient, a fault in the second input only, a fault in the part of a large
// input that sampling must reach) must be rejected at every tolerance set the
// op and model tests use, while the same ops with the right backward pass are
// accepted.
#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

enum class Fault { None, Scaled, MissingTerm, Transposed, MissingTermInSecondHalf };

// f(x) = x ⊙ tanh(x): df/dx = tanh(x) + x·(1 − tanh²(x)). A product rule, so
// "missing term" drops the second summand, as a layer-norm backward without its
// mean term would.
Variable x_tanh_x(const Variable& x, Fault fault) {
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = x.data().data()[i] * std::tanh(x.data().data()[i]);
  return make_result(out, {&x}, "x_tanh_x", [x, fault](const Tensor& g) {
    float* dx = grad_ptr(x);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = x.data().data()[i], t = std::tanh(v);
      const bool missing = fault == Fault::MissingTerm || (fault == Fault::MissingTermInSecondHalf && i >= x.numel() / 2);
      double d = missing ? t : t + v * (1.0 - t * t);
      if (fault == Fault::Scaled) d *= 1.01;
      dx[i] += static_cast<float>(g.data()[i] * d);
    }
  });
}

// f(A) = A·B for square A [n, n] and a fixed B: dA = G·Bᵀ. "Transposed" returns
// (G·Bᵀ)ᵀ, the classic index swap; the shapes agree, so nothing else notices.
Variable matmul_fixed(const Variable& a, const Tensor& b, Fault fault) {
  const int64_t n = a.dim(0);
  Tensor out = Tensor::zeros({n, n});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) s += static_cast<double>(a.data().data()[i * n + k]) * b.data()[k * n + j];
      out.data()[i * n + j] = static_cast<float>(s);
    }
  return make_result(out, {&a}, "matmul_fixed", [a, b, n, fault](const Tensor& g) {
    float* da = grad_ptr(a);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < n; ++k) {
        double s = 0.0;
        for (int64_t j = 0; j < n; ++j) s += static_cast<double>(g.data()[i * n + j]) * b.data()[k * n + j];
        if (fault == Fault::Scaled) s *= 1.01;
        da[fault == Fault::Transposed ? k * n + i : i * n + k] += static_cast<float>(s);
      }
  });
}

// The tolerance sets the suite uses: the defaults (every op test), the model
// tests' tighter atol with sampling, and the attention-family's small step.
std::vector<std::pair<std::string, GradcheckOptions>> option_sets() {
  GradcheckOptions model;
  model.atol = 3e-4;
  model.max_elements = 40;
  GradcheckOptions small_step;
  small_step.step = 1e-3;
  return {{"defaults", GradcheckOptions{}}, {"model tests", model}, {"small step", small_step}};
}

GradcheckResult check_x_tanh_x(Fault fault, const GradcheckOptions& o) {
  std::vector<Variable> in{random_param({7, 13}, 11, -2.0f, 2.0f)};
  return gradcheck([fault](const std::vector<Variable>& v) { return x_tanh_x(v[0], fault); }, in, o);
}

GradcheckResult check_matmul(Fault fault, const GradcheckOptions& o) {
  const Tensor b = random_tensor({9, 9}, 12);
  std::vector<Variable> in{random_param({9, 9}, 13)};
  return gradcheck([b, fault](const std::vector<Variable>& v) { return matmul_fixed(v[0], b, fault); }, in, o);
}

TEST(Gradcheck, AcceptsCorrectBackwardAtEveryToleranceSet) {
  for (auto& [name, o] : option_sets()) {
    GradcheckResult r = check_x_tanh_x(Fault::None, o);
    EXPECT_TRUE(r.ok) << name << ": " << r.report;
    EXPECT_GT(r.checked, 0) << name;
    r = check_matmul(Fault::None, o);
    EXPECT_TRUE(r.ok) << name << ": " << r.report;
    EXPECT_GT(r.checked, 0) << name;
  }
}

TEST(Gradcheck, RejectsGradientScaledByOnePercent) {
  for (auto& [name, o] : option_sets()) {
    GradcheckResult r = check_x_tanh_x(Fault::Scaled, o);
    EXPECT_FALSE(r.ok) << name << ": global relative error " << r.global_rel_error;
    // 1% on every element is a global relative error of 1%, whatever the values.
    EXPECT_NEAR(r.global_rel_error, 0.01, 2e-3) << name;
    r = check_matmul(Fault::Scaled, o);
    EXPECT_FALSE(r.ok) << name << ": global relative error " << r.global_rel_error;
  }
}

TEST(Gradcheck, RejectsMissingProductRuleTerm) {
  for (auto& [name, o] : option_sets()) {
    const GradcheckResult r = check_x_tanh_x(Fault::MissingTerm, o);
    EXPECT_FALSE(r.ok) << name;
    EXPECT_CONTAINS(r.report, "analytic");
  }
}

TEST(Gradcheck, RejectsTransposedGradient) {
  for (auto& [name, o] : option_sets()) {
    const GradcheckResult r = check_matmul(Fault::Transposed, o);
    EXPECT_FALSE(r.ok) << name;
    EXPECT_GT(r.global_rel_error, 0.1) << name;
  }
}

// The report names the input, the element and both values, and the global error.
TEST(Gradcheck, ReportNamesInputElementAndValues) {
  const GradcheckResult r = check_x_tanh_x(Fault::MissingTerm, GradcheckOptions{});
  EXPECT_CONTAINS(r.report, "input 0 [7, 13] element ");
  EXPECT_CONTAINS(r.report, "numeric");
  EXPECT_CONTAINS(r.report, "global relative error");
}

// f(a, b) = a ⊙ tanh(b): da = tanh(b), db = a·(1 − tanh²(b)). The fault sits in
// the second input's gradient alone, so a gradcheck that looked at the first
// input only would pass it.
Variable a_tanh_b(const Variable& a, const Variable& b, bool fault_in_b) {
  Tensor out = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) out.data()[i] = a.data().data()[i] * std::tanh(b.data().data()[i]);
  return make_result(out, {&a, &b}, "a_tanh_b", [a, b, fault_in_b](const Tensor& g) {
    float* da = grad_ptr(a);
    float* db = grad_ptr(b);
    for (int64_t i = 0; i < a.numel(); ++i) {
      const double t = std::tanh(b.data().data()[i]);
      da[i] += static_cast<float>(g.data()[i] * t);
      db[i] += static_cast<float>(g.data()[i] * a.data().data()[i] * (fault_in_b ? 1.0 : 1.0 - t * t));
    }
  });
}

TEST(Gradcheck, ChecksEveryInputAndRejectsAFaultInTheSecond) {
  for (auto& [name, o] : option_sets()) {
    for (bool fault : {false, true}) {
      std::vector<Variable> in{random_param({5, 7}, 21, -2.0f, 2.0f), random_param({5, 7}, 22, -2.0f, 2.0f)};
      const GradcheckResult r =
          gradcheck([fault](const std::vector<Variable>& v) { return a_tanh_b(v[0], v[1], fault); }, in, o);
      EXPECT_EQ(r.ok, !fault) << name << ": " << r.report;
      EXPECT_EQ(r.checked, 2 * std::min<int64_t>(35, o.max_elements)) << name;
      if (fault) {
        EXPECT_CONTAINS(r.report, "input 1 [5, 7] element ");
        EXPECT_EQ(r.report.find("input 0"), std::string::npos) << r.report;
      }
    }
  }
}

// An input over max_elements is sampled: exactly max_elements elements, drawn
// from all of it, so that a fault in the second half of a 1200-element input
// is rejected with the 400 samples of the defaults and the 40 of the model tests.
TEST(Gradcheck, SamplesLargeInputsFromAllOfThemAndStillRejects) {
  for (auto& [name, o] : option_sets()) {
    for (Fault fault : {Fault::None, Fault::Scaled, Fault::MissingTermInSecondHalf}) {
      std::vector<Variable> in{random_param({30, 40}, 31, -2.0f, 2.0f)};
      const GradcheckResult r =
          gradcheck([fault](const std::vector<Variable>& v) { return x_tanh_x(v[0], fault); }, in, o);
      EXPECT_EQ(r.checked, o.max_elements) << name;
      EXPECT_EQ(r.ok, fault == Fault::None) << name << ", fault " << static_cast<int>(fault) << ": " << r.report;
    }
  }
}

TEST(Gradcheck, RejectsOutputThatIgnoresInputs) {
  std::vector<Variable> in{random_param({3}, 1)};
  Variable constant(random_tensor({3}, 2), false);
  EXPECT_CONTAINS(error_message([&] { gradcheck([&](const std::vector<Variable>&) { return constant; }, in); }),
                  "does not depend on any input");
}

}  // namespace
}  // namespace tfm
