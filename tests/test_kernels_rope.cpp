// core/kernels/rope: the cos/sin table and the rotate-halves rotation against the
// documented formula in double (GPT-NeoX / Hugging Face LLaMA convention), with a
// position offset and columns beyond the rotated heads; the backward is the
// transpose (checked through ⟨R x, g⟩ = ⟨x, Rᵀ g⟩) and accumulates.
#include <cmath>
#include <vector>

#include "core/kernels/rope.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// The rotation of one head at position p, from the formula: pairs (i, i + dh/2).
std::vector<double> rotate_ref(const float* x, int64_t dh, int64_t p, double theta) {
  const int64_t half = dh / 2;
  std::vector<double> y(dh);
  for (int64_t i = 0; i < half; ++i) {
    const double angle = p * std::pow(theta, -2.0 * i / dh);
    y[i] = x[i] * std::cos(angle) - x[i + half] * std::sin(angle);
    y[i + half] = x[i + half] * std::cos(angle) + x[i] * std::sin(angle);
  }
  return y;
}

struct Table {
  Tensor cos, sin;
};
Table table(int64_t positions, int64_t dh, double theta) {
  Table t{Tensor::empty({positions, dh / 2}), Tensor::empty({positions, dh / 2})};
  rope_table(t.cos.data(), t.sin.data(), positions, dh, theta);
  return t;
}

TEST(RopeKernel, TableHoldsTheAnglesOfTheFormula) {
  const int64_t positions = 13, dh = 10;
  for (double theta : {10000.0, 500.0}) {
    const Table t = table(positions, dh, theta);
    for (int64_t p = 0; p < positions; ++p)
      for (int64_t i = 0; i < dh / 2; ++i) {
        const double angle = p * std::pow(theta, -2.0 * i / dh);
        ASSERT_NEAR(t.cos.at(p * 5 + i), std::cos(angle), 1e-6);
        ASSERT_NEAR(t.sin.at(p * 5 + i), std::sin(angle), 1e-6);
      }
  }
}

TEST(RopeKernel, ForwardRotatesHalvesAtOffsetPositionsAndLeavesOtherColumns) {
  // 2 sequences of 7 rows at positions 3 … 9; 3 rotated heads of 6 and 5 more columns.
  const int64_t B = 2, T = 7, dh = 6, H = 3, ld = H * dh + 5, offset = 3;
  const double theta = 10000.0;
  const Table t = table(offset + T, dh, theta);
  Tensor x = random_tensor({B * T, ld}, 1, -2.0f, 2.0f);
  Tensor out = Tensor::full({B * T, ld}, 7.0f);
  rope_forward(out.data(), x.data(), t.cos.data(), t.sin.data(), B, T, ld, H, dh, offset);
  for (int64_t r = 0; r < B * T; ++r) {
    for (int64_t h = 0; h < H; ++h) {
      const std::vector<double> y = rotate_ref(x.data() + r * ld + h * dh, dh, offset + r % T, theta);
      for (int64_t c = 0; c < dh; ++c) ASSERT_NEAR(out.at(r * ld + h * dh + c), y[c], 1e-5) << r << " " << h << " " << c;
    }
    for (int64_t c = H * dh; c < ld; ++c) ASSERT_EQ(out.at(r * ld + c), 7.0f);
  }
}

TEST(RopeKernel, PositionZeroIsTheIdentity) {
  const int64_t dh = 8;
  const Table t = table(1, dh, 10000.0);
  Tensor x = random_tensor({1, dh}, 2), out = Tensor::empty({1, dh});
  rope_forward(out.data(), x.data(), t.cos.data(), t.sin.data(), 1, 1, dh, 1, dh, 0);
  expect_close(out, x, 0.0f);
}

TEST(RopeKernel, BackwardIsTheTransposeAndAccumulates) {
  const int64_t B = 3, T = 5, dh = 10, H = 2, ld = H * dh, offset = 4;
  const Table t = table(offset + T, dh, 10000.0);
  Tensor x = random_tensor({B * T, ld}, 3), g = random_tensor({B * T, ld}, 4);
  Tensor y = Tensor::empty({B * T, ld});
  rope_forward(y.data(), x.data(), t.cos.data(), t.sin.data(), B, T, ld, H, dh, offset);
  Tensor dx = random_tensor({B * T, ld}, 5);
  const Tensor dx0 = dx.copy();
  rope_backward(dx.data(), g.data(), t.cos.data(), t.sin.data(), B, T, ld, H, dh, offset);
  double lhs = 0.0, rhs = 0.0;  // ⟨R x, g⟩ and ⟨x, Rᵀ g⟩
  for (int64_t i = 0; i < B * T * ld; ++i) {
    lhs += double(y.at(i)) * g.at(i);
    rhs += double(x.at(i)) * (dx.at(i) - dx0.at(i));
  }
  EXPECT_NEAR(lhs, rhs, 1e-4 * std::fabs(lhs) + 1e-5);
  // Rᵀ R = I: the backward of the forward's output gives back x.
  Tensor back = Tensor::zeros({B * T, ld});
  rope_backward(back.data(), y.data(), t.cos.data(), t.sin.data(), B, T, ld, H, dh, offset);
  expect_close(back, x, 1e-5f);
}

}  // namespace
}  // namespace tfm
