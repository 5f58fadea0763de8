// core/kernels/norm: layer norm and RMSNorm forward and backward against naive
// double references (the backward through the explicit Jacobian of x̂).
#include <omp.h>

#include <cmath>
#include <vector>

#include "core/kernels/norm.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr float kEps = 1e-5f;

struct RowStats {
  double mean, rstd;
};

RowStats stats_ref(const float* x, int64_t dim, double eps) {
  double m = 0.0;
  for (int64_t j = 0; j < dim; ++j) m += x[j];
  m /= dim;
  double var = 0.0;
  for (int64_t j = 0; j < dim; ++j) var += (x[j] - m) * (x[j] - m);
  return {m, 1.0 / std::sqrt(var / dim + eps)};  // biased variance, as PyTorch
}

// y = (x − mean)·rstd·gamma + beta; gamma/beta may be null.
std::vector<double> forward_ref(const Tensor& x, const float* gamma, const float* beta, int64_t rows, int64_t dim) {
  std::vector<double> y(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    const RowStats s = stats_ref(x.data() + r * dim, dim, kEps);
    for (int64_t j = 0; j < dim; ++j)
      y[r * dim + j] = (x.at(r * dim + j) - s.mean) * s.rstd * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0);
  }
  return y;
}

struct Grads {
  std::vector<double> dx, dgamma, dbeta;
};

// dx_i = Σ_j dout_j·gamma_j·∂x̂_j/∂x_i, ∂x̂_j/∂x_i = rstd·(δ_ij − 1/D − x̂_i·x̂_j/D).
Grads backward_ref(const Tensor& dout, const Tensor& x, const float* gamma, int64_t rows, int64_t dim) {
  Grads g{std::vector<double>(rows * dim, 0.0), std::vector<double>(dim, 0.0), std::vector<double>(dim, 0.0)};
  std::vector<double> xhat(dim);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * dim;
    const RowStats s = stats_ref(xr, dim, kEps);
    for (int64_t j = 0; j < dim; ++j) xhat[j] = (xr[j] - s.mean) * s.rstd;
    for (int64_t i = 0; i < dim; ++i) {
      double acc = 0.0;
      for (int64_t j = 0; j < dim; ++j) {
        const double jac = s.rstd * ((i == j) - 1.0 / dim - xhat[i] * xhat[j] / dim);
        acc += dout.at(r * dim + j) * (gamma ? gamma[j] : 1.0) * jac;
      }
      g.dx[r * dim + i] = acc;
      g.dgamma[i] += dout.at(r * dim + i) * xhat[i];
      g.dbeta[i] += dout.at(r * dim + i);
    }
  }
  return g;
}

// (rows, dim): odd shapes; the last one exceeds the parallel threshold.
const std::vector<std::pair<int64_t, int64_t>> kShapes{{7, 13}, {1, 33}, {33, 7}, {97, 65}};

TEST(LayerNorm, ForwardMatchesNaiveDoubleReference) {
  for (auto [rows, dim] : kShapes) {
    Tensor x = random_tensor({rows, dim}, 1, -2.0f, 3.0f);
    Tensor gamma = random_tensor({dim}, 2, 0.5f, 1.5f), beta = random_tensor({dim}, 3);
    Tensor out = Tensor::empty({rows, dim}), mean = Tensor::empty({rows}), rstd = Tensor::empty({rows});
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), rows, dim, kEps);
    std::vector<double> y = forward_ref(x, gamma.data(), beta.data(), rows, dim);
    for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(out.at(i), y[i], 2e-5) << rows << "x" << dim << " at " << i;
    for (int64_t r = 0; r < rows; ++r) {
      const RowStats s = stats_ref(x.data() + r * dim, dim, kEps);
      ASSERT_NEAR(mean.at(r), s.mean, 1e-5);
      ASSERT_NEAR(rstd.at(r), s.rstd, 1e-5 * s.rstd);
    }
  }
}

TEST(LayerNorm, ForwardWithoutAffineAndWithNullStats) {
  const int64_t rows = 7, dim = 13;
  Tensor x = random_tensor({rows, dim}, 4);
  Tensor out = Tensor::empty({rows, dim});
  layernorm_forward(out.data(), nullptr, nullptr, x.data(), nullptr, nullptr, rows, dim, kEps);
  std::vector<double> y = forward_ref(x, nullptr, nullptr, rows, dim);
  for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(out.at(i), y[i], 2e-5);
}

TEST(LayerNorm, LargeMeanDoesNotLoseTheVariance) {
  // Two-pass statistics: a mean of 1e4 with unit spread still normalises accurately.
  const int64_t rows = 3, dim = 33;
  Tensor x = random_tensor({rows, dim}, 5, 1e4f - 1.0f, 1e4f + 1.0f);
  Tensor out = Tensor::empty({rows, dim});
  layernorm_forward(out.data(), nullptr, nullptr, x.data(), nullptr, nullptr, rows, dim, kEps);
  std::vector<double> y = forward_ref(x, nullptr, nullptr, rows, dim);
  for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(out.at(i), y[i], 1e-2);  // one-pass E[x²]−E[x]² is off by O(1)
}

TEST(LayerNorm, ConstantRowNormalisesToBeta) {
  const int64_t dim = 13;
  Tensor x = Tensor::full({1, dim}, 3.0f), beta = random_tensor({dim}, 6), gamma = random_tensor({dim}, 7);
  Tensor out = Tensor::empty({1, dim});
  layernorm_forward(out.data(), nullptr, nullptr, x.data(), gamma.data(), beta.data(), 1, dim, kEps);
  expect_close(out.data(), beta.data(), dim, 1e-6f);
}

TEST(LayerNorm, BackwardMatchesNaiveJacobianAndAccumulates) {
  for (auto [rows, dim] : kShapes) {
    Tensor x = random_tensor({rows, dim}, 8, -2.0f, 3.0f), dout = random_tensor({rows, dim}, 9);
    Tensor gamma = random_tensor({dim}, 10, 0.5f, 1.5f), beta = random_tensor({dim}, 11);
    Tensor out = Tensor::empty({rows, dim}), mean = Tensor::empty({rows}), rstd = Tensor::empty({rows});
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(), beta.data(), rows, dim, kEps);
    Tensor dx = random_tensor({rows, dim}, 12), dgamma = random_tensor({dim}, 13), dbeta = random_tensor({dim}, 14);
    Tensor dx0 = dx.copy(), dgamma0 = dgamma.copy(), dbeta0 = dbeta.copy();
    layernorm_backward(dx.data(), dgamma.data(), dbeta.data(), dout.data(), x.data(), mean.data(), rstd.data(),
                       gamma.data(), rows, dim);
    Grads g = backward_ref(dout, x, gamma.data(), rows, dim);
    for (int64_t i = 0; i < rows * dim; ++i)
      ASSERT_NEAR(dx.at(i), dx0.at(i) + g.dx[i], 1e-4) << rows << "x" << dim << " dx at " << i;
    for (int64_t j = 0; j < dim; ++j) {
      ASSERT_NEAR(dgamma.at(j), dgamma0.at(j) + g.dgamma[j], 1e-4 * (1 + rows)) << "dgamma at " << j;
      ASSERT_NEAR(dbeta.at(j), dbeta0.at(j) + g.dbeta[j], 1e-4 * (1 + rows)) << "dbeta at " << j;
    }
  }
}

TEST(LayerNorm, BackwardWithoutAffineOrParameterGrads) {
  const int64_t rows = 7, dim = 33;
  Tensor x = random_tensor({rows, dim}, 15), dout = random_tensor({rows, dim}, 16);
  Tensor mean = Tensor::empty({rows}), rstd = Tensor::empty({rows}), out = Tensor::empty({rows, dim});
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), nullptr, nullptr, rows, dim, kEps);
  Tensor dx = Tensor::zeros({rows, dim});
  layernorm_backward(dx.data(), nullptr, nullptr, dout.data(), x.data(), mean.data(), rstd.data(), nullptr, rows, dim);
  Grads g = backward_ref(dout, x, nullptr, rows, dim);
  for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(dx.at(i), g.dx[i], 1e-4);
}

TEST(LayerNorm, ParameterGradsIdenticalWithOneAndTwoThreads) {
  const int64_t rows = 301, dim = 33;  // rows·dim above the parallel threshold
  Tensor x = random_tensor({rows, dim}, 17), dout = random_tensor({rows, dim}, 18);
  Tensor gamma = random_tensor({dim}, 19, 0.5f, 1.5f);
  Tensor mean = Tensor::empty({rows}), rstd = Tensor::empty({rows}), out = Tensor::empty({rows, dim});
  layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), gamma.data(), nullptr, rows, dim, kEps);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    Tensor d = Tensor::zeros({rows * dim + 2 * dim});
    float* dx = d.data();
    layernorm_backward(dx, dx + rows * dim, dx + rows * dim + dim, dout.data(), x.data(), mean.data(), rstd.data(),
                       gamma.data(), rows, dim);
    results.emplace_back(d.data(), d.data() + d.numel());
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
}

// --- RMSNorm (Zhang & Sennrich 2019): y = x/√(mean(x²) + eps)·gamma + beta ---

double rms_rstd_ref(const float* x, int64_t dim, double eps) {
  double sq = 0.0;
  for (int64_t j = 0; j < dim; ++j) sq += double(x[j]) * x[j];
  return 1.0 / std::sqrt(sq / dim + eps);
}

std::vector<double> rms_forward_ref(const Tensor& x, const float* gamma, const float* beta, int64_t rows, int64_t dim,
                                    double eps) {
  std::vector<double> y(rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    const double s = rms_rstd_ref(x.data() + r * dim, dim, eps);
    for (int64_t j = 0; j < dim; ++j)
      y[r * dim + j] = x.at(r * dim + j) * s * (gamma ? gamma[j] : 1.0) + (beta ? beta[j] : 0.0);
  }
  return y;
}

// ∂x̂_j/∂x_i = rstd·(δ_ij − x̂_i·x̂_j/D), x̂ = x·rstd.
Grads rms_backward_ref(const Tensor& dout, const Tensor& x, const float* gamma, int64_t rows, int64_t dim) {
  Grads g{std::vector<double>(rows * dim, 0.0), std::vector<double>(dim, 0.0), std::vector<double>(dim, 0.0)};
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data() + r * dim;
    const double s = rms_rstd_ref(xr, dim, kEps);
    for (int64_t i = 0; i < dim; ++i) {
      double acc = 0.0;
      for (int64_t j = 0; j < dim; ++j)
        acc += dout.at(r * dim + j) * (gamma ? gamma[j] : 1.0) * s * ((i == j) - xr[i] * s * xr[j] * s / dim);
      g.dx[r * dim + i] = acc;
      g.dgamma[i] += dout.at(r * dim + i) * xr[i] * s;
      g.dbeta[i] += dout.at(r * dim + i);
    }
  }
  return g;
}

TEST(RmsNorm, ForwardMatchesNaiveDoubleReference) {
  for (auto [rows, dim] : kShapes) {
    Tensor x = random_tensor({rows, dim}, 21, -2.0f, 3.0f);
    Tensor gamma = random_tensor({dim}, 22, 0.5f, 1.5f), beta = random_tensor({dim}, 23);
    Tensor out = Tensor::empty({rows, dim}), rstd = Tensor::empty({rows});
    rmsnorm_forward(out.data(), rstd.data(), x.data(), gamma.data(), beta.data(), rows, dim, kEps);
    std::vector<double> y = rms_forward_ref(x, gamma.data(), beta.data(), rows, dim, kEps);
    for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(out.at(i), y[i], 2e-5) << rows << "x" << dim << " at " << i;
    for (int64_t r = 0; r < rows; ++r) ASSERT_NEAR(rstd.at(r), rms_rstd_ref(x.data() + r * dim, dim, kEps), 1e-5);
  }
}

TEST(RmsNorm, EpsDampsRowsOfSmallValues) {
  // mean(x²) ≈ 3e-6 against eps 1e-5: eps sets most of the scale, so dropping it is visible.
  const int64_t rows = 3, dim = 13;
  Tensor x = random_tensor({rows, dim}, 24, -3e-3f, 3e-3f);
  Tensor out = Tensor::empty({rows, dim});
  rmsnorm_forward(out.data(), nullptr, x.data(), nullptr, nullptr, rows, dim, kEps);
  std::vector<double> y = rms_forward_ref(x, nullptr, nullptr, rows, dim, kEps);
  for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(out.at(i), y[i], 1e-4) << i;
  EXPECT_LT(std::fabs(out.at(0)), std::fabs(x.at(0)) / std::sqrt(3e-6) * 0.7);  // far from x/rms(x)
}

TEST(RmsNorm, BackwardMatchesNaiveJacobianAndAccumulates) {
  for (auto [rows, dim] : kShapes) {
    Tensor x = random_tensor({rows, dim}, 25, -2.0f, 3.0f), dout = random_tensor({rows, dim}, 26);
    Tensor gamma = random_tensor({dim}, 27, 0.5f, 1.5f), beta = random_tensor({dim}, 28);
    Tensor out = Tensor::empty({rows, dim}), rstd = Tensor::empty({rows});
    rmsnorm_forward(out.data(), rstd.data(), x.data(), gamma.data(), beta.data(), rows, dim, kEps);
    Tensor dx = random_tensor({rows, dim}, 29), dgamma = random_tensor({dim}, 30), dbeta = random_tensor({dim}, 31);
    Tensor dx0 = dx.copy(), dgamma0 = dgamma.copy(), dbeta0 = dbeta.copy();
    rmsnorm_backward(dx.data(), dgamma.data(), dbeta.data(), dout.data(), x.data(), rstd.data(), gamma.data(), rows,
                     dim);
    Grads g = rms_backward_ref(dout, x, gamma.data(), rows, dim);
    for (int64_t i = 0; i < rows * dim; ++i)
      ASSERT_NEAR(dx.at(i), dx0.at(i) + g.dx[i], 1e-4) << rows << "x" << dim << " dx at " << i;
    for (int64_t j = 0; j < dim; ++j) {
      ASSERT_NEAR(dgamma.at(j), dgamma0.at(j) + g.dgamma[j], 1e-4 * (1 + rows)) << "dgamma at " << j;
      ASSERT_NEAR(dbeta.at(j), dbeta0.at(j) + g.dbeta[j], 1e-4 * (1 + rows)) << "dbeta at " << j;
    }
  }
}

TEST(RmsNorm, BackwardWithoutAffineIdenticalWithOneAndTwoThreads) {
  const int64_t rows = 301, dim = 33;
  Tensor x = random_tensor({rows, dim}, 32), dout = random_tensor({rows, dim}, 33);
  Tensor rstd = Tensor::empty({rows}), out = Tensor::empty({rows, dim});
  rmsnorm_forward(out.data(), rstd.data(), x.data(), nullptr, nullptr, rows, dim, kEps);
  Grads g = rms_backward_ref(dout, x, nullptr, rows, dim);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    Tensor dx = Tensor::zeros({rows, dim});
    rmsnorm_backward(dx.data(), nullptr, nullptr, dout.data(), x.data(), rstd.data(), nullptr, rows, dim);
    for (int64_t i = 0; i < rows * dim; ++i) ASSERT_NEAR(dx.at(i), g.dx[i], 1e-4);
    results.emplace_back(dx.data(), dx.data() + dx.numel());
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
}

}  // namespace
}  // namespace tfm
