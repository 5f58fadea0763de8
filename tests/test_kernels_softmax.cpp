// core/kernels/softmax: softmax and log-softmax against an explicit double
// computation, masked rows, large logits, and the backward formulas.
#include <cmath>
#include <limits>
#include <vector>

#include "core/kernels/softmax.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr float kInf = std::numeric_limits<float>::infinity();

// Explicit softmax of one row in double: exp(x_j) / Σ_k exp(x_k), shifted by the max.
std::vector<double> softmax_ref(const float* x, int64_t cols) {
  double mx = x[0];
  for (int64_t j = 1; j < cols; ++j) mx = std::max(mx, static_cast<double>(x[j]));
  std::vector<double> p(cols);
  double sum = 0.0;
  for (int64_t j = 0; j < cols; ++j) sum += p[j] = std::exp(x[j] - mx);
  for (double& v : p) v /= sum;
  return p;
}

// (rows, cols): odd shapes, and one above the parallel threshold.
const std::vector<std::pair<int64_t, int64_t>> kShapes{{7, 13}, {1, 33}, {13, 1}, {257, 33}};

TEST(Softmax, ForwardMatchesExplicitSoftmax) {
  for (auto [rows, cols] : kShapes) {
    Tensor x = random_tensor({rows, cols}, 1, -8.0f, 8.0f);
    Tensor out = Tensor::empty({rows, cols});
    softmax_forward(out.data(), x.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> p = softmax_ref(x.data() + r * cols, cols);
      double total = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        ASSERT_NEAR(out.at(r * cols + j), p[j], 1e-6 + 1e-5 * p[j]);
        total += out.at(r * cols + j);
      }
      ASSERT_NEAR(total, 1.0, 1e-5);
    }
  }
}

TEST(Softmax, LargeLogitsDoNotOverflow) {
  std::vector<float> x{1000.0f, 999.0f, -1000.0f, 1000.0f};
  std::vector<float> out(4);
  softmax_forward(out.data(), x.data(), 1, 4);
  std::vector<double> p = softmax_ref(x.data(), 4);
  for (int j = 0; j < 4; ++j) EXPECT_NEAR(out[j], p[j], 1e-6);
}

TEST(Softmax, FullyMaskedRowGivesZerosAndNoNaN) {
  // Row 0 fully masked (-inf), row 1 partly masked: masked entries get probability 0.
  std::vector<float> x{-kInf, -kInf, -kInf, 0.5f, -kInf, -0.5f};
  std::vector<float> out(6, 7.0f);
  softmax_forward(out.data(), x.data(), 2, 3);
  for (int j = 0; j < 3; ++j) EXPECT_EQ(out[j], 0.0f);
  EXPECT_NEAR(out[3], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_NEAR(out[5], 1.0 / (1.0 + std::exp(1.0)), 1e-6);
  // The backward through a fully masked row adds nothing and stays finite.
  std::vector<float> dout{1.0f, -2.0f, 3.0f, 1.0f, 1.0f, 1.0f}, dx(6, 0.0f);
  softmax_backward(dx.data(), dout.data(), out.data(), 2, 3);
  for (float v : dx) EXPECT_TRUE(std::isfinite(v));
  for (int j = 0; j < 3; ++j) EXPECT_EQ(dx[j], 0.0f);
}

TEST(Softmax, BackwardAccumulatesJacobianVectorProduct) {
  for (auto [rows, cols] : kShapes) {
    Tensor x = random_tensor({rows, cols}, 2, -3.0f, 3.0f), dout = random_tensor({rows, cols}, 3);
    Tensor out = Tensor::empty({rows, cols});
    softmax_forward(out.data(), x.data(), rows, cols);
    Tensor dx = random_tensor({rows, cols}, 4), dx0 = dx.copy();
    softmax_backward(dx.data(), dout.data(), out.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> p = softmax_ref(x.data() + r * cols, cols);
      // dx_i = Σ_j dout_j ∂p_j/∂x_i, ∂p_j/∂x_i = p_j(δ_ij − p_i): the full Jacobian, explicitly.
      for (int64_t i = 0; i < cols; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < cols; ++j) s += dout.at(r * cols + j) * p[j] * ((i == j) - p[i]);
        ASSERT_NEAR(dx.at(r * cols + i), dx0.at(r * cols + i) + s, 1e-5);
      }
    }
  }
}

TEST(LogSoftmax, ForwardMatchesLogOfExplicitSoftmax) {
  for (auto [rows, cols] : kShapes) {
    Tensor x = random_tensor({rows, cols}, 5, -8.0f, 8.0f);
    Tensor out = Tensor::empty({rows, cols});
    log_softmax_forward(out.data(), x.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> p = softmax_ref(x.data() + r * cols, cols);
      for (int64_t j = 0; j < cols; ++j) ASSERT_NEAR(out.at(r * cols + j), std::log(p[j]), 1e-5);
    }
  }
}

TEST(LogSoftmax, LargeLogitsStayFinite) {
  std::vector<float> x{1000.0f, 0.0f, -1000.0f};
  std::vector<float> out(3);
  log_softmax_forward(out.data(), x.data(), 1, 3);
  EXPECT_NEAR(out[0], 0.0, 1e-6);
  EXPECT_NEAR(out[1], -1000.0, 1e-3);
  EXPECT_NEAR(out[2], -2000.0, 1e-3);
}

TEST(LogSoftmax, BackwardAccumulatesJacobianVectorProduct) {
  for (auto [rows, cols] : kShapes) {
    Tensor x = random_tensor({rows, cols}, 6, -3.0f, 3.0f), dout = random_tensor({rows, cols}, 7);
    Tensor out = Tensor::empty({rows, cols});
    log_softmax_forward(out.data(), x.data(), rows, cols);
    Tensor dx = random_tensor({rows, cols}, 8), dx0 = dx.copy();
    log_softmax_backward(dx.data(), dout.data(), out.data(), rows, cols);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<double> p = softmax_ref(x.data() + r * cols, cols);
      // ∂log p_j/∂x_i = δ_ij − p_i
      for (int64_t i = 0; i < cols; ++i) {
        double s = 0.0;
        for (int64_t j = 0; j < cols; ++j) s += dout.at(r * cols + j) * ((i == j) - p[i]);
        ASSERT_NEAR(dx.at(r * cols + i), dx0.at(r * cols + i) + s, 1e-5);
      }
    }
  }
}

}  // namespace
}  // namespace tfm
