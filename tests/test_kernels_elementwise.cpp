// core/kernels/elementwise: add/mul with and without broadcasting, scale, axpy
// and the thread-count-independent row sum, against explicit loops.
#include <omp.h>

#include <vector>

#include "core/kernels/elementwise.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// (outer, inner) pairs: small (serial) and large enough for the OpenMP path.
const std::vector<std::pair<int64_t, int64_t>> kSizes{{7, 13}, {1, 33}, {1031, 33}};

TEST(Add, ForwardMatchesLoopSameShapeAndBroadcast) {
  for (auto [outer, inner] : kSizes) {
    Tensor a = random_tensor({outer, inner}, 1), b = random_tensor({outer, inner}, 2), bb = random_tensor({inner}, 3);
    Tensor out = Tensor::empty({outer, inner}), out_bc = Tensor::empty({outer, inner});
    add_forward(out.data(), a.data(), b.data(), outer, inner, false);
    add_forward(out_bc.data(), a.data(), bb.data(), outer, inner, true);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = o * inner + i;
        ASSERT_EQ(out.at(k), a.at(k) + b.at(k));
        ASSERT_EQ(out_bc.at(k), a.at(k) + bb.at(i));
      }
  }
}

TEST(Add, BackwardAccumulatesAndSumsBroadcastRows) {
  for (auto [outer, inner] : kSizes) {
    Tensor dout = random_tensor({outer, inner}, 4);
    Tensor da = random_tensor({outer, inner}, 5), db = random_tensor({inner}, 6);
    Tensor da0 = da.copy(), db0 = db.copy();
    add_backward(da.data(), db.data(), dout.data(), outer, inner, true);
    for (int64_t k = 0; k < outer * inner; ++k) ASSERT_FLOAT_EQ(da.at(k), da0.at(k) + dout.at(k));
    for (int64_t i = 0; i < inner; ++i) {
      double s = db0.at(i);
      for (int64_t o = 0; o < outer; ++o) s += dout.at(o * inner + i);
      ASSERT_NEAR(db.at(i), s, 1e-4 + 1e-5 * outer);
    }
    Tensor db_same = random_tensor({outer, inner}, 7), db_same0 = db_same.copy();
    add_backward(nullptr, db_same.data(), dout.data(), outer, inner, false);
    for (int64_t k = 0; k < outer * inner; ++k) ASSERT_FLOAT_EQ(db_same.at(k), db_same0.at(k) + dout.at(k));
  }
}

TEST(Mul, ForwardMatchesLoopSameShapeAndBroadcast) {
  for (auto [outer, inner] : kSizes) {
    Tensor a = random_tensor({outer, inner}, 8), b = random_tensor({outer, inner}, 9), bb = random_tensor({inner}, 10);
    Tensor out = Tensor::empty({outer, inner}), out_bc = Tensor::empty({outer, inner});
    mul_forward(out.data(), a.data(), b.data(), outer, inner, false);
    mul_forward(out_bc.data(), a.data(), bb.data(), outer, inner, true);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = o * inner + i;
        ASSERT_EQ(out.at(k), a.at(k) * b.at(k));
        ASSERT_EQ(out_bc.at(k), a.at(k) * bb.at(i));
      }
  }
}

TEST(Mul, BackwardAccumulatesProductRuleGradients) {
  for (auto [outer, inner] : kSizes) {
    for (bool broadcast : {false, true}) {
      const int64_t b_numel = broadcast ? inner : outer * inner;
      Tensor a = random_tensor({outer, inner}, 11), b = random_tensor({b_numel}, 12);
      Tensor dout = random_tensor({outer, inner}, 13);
      Tensor da = random_tensor({outer, inner}, 14), db = random_tensor({b_numel}, 15);
      Tensor da0 = da.copy(), db0 = db.copy();
      mul_backward(da.data(), db.data(), dout.data(), a.data(), b.data(), outer, inner, broadcast);
      std::vector<double> db_ref(b_numel);
      for (int64_t k = 0; k < b_numel; ++k) db_ref[k] = db0.at(k);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t k = o * inner + i, kb = broadcast ? i : k;
          ASSERT_NEAR(da.at(k), da0.at(k) + static_cast<double>(dout.at(k)) * b.at(kb), 1e-6);
          db_ref[kb] += static_cast<double>(dout.at(k)) * a.at(k);
        }
      for (int64_t k = 0; k < b_numel; ++k) ASSERT_NEAR(db.at(k), db_ref[k], 1e-4 + 1e-5 * outer);
    }
  }
}

TEST(Scale, ForwardAndBackwardMultiplyByAlpha) {
  const int64_t n = 20011;
  Tensor x = random_tensor({n}, 16), out = Tensor::empty({n});
  scale_forward(out.data(), x.data(), -0.375f, n);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out.at(i), -0.375f * x.at(i));
  Tensor dx = random_tensor({n}, 17), dx0 = dx.copy();
  scale_backward(dx.data(), x.data(), 2.5f, n);
  for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(dx.at(i), dx0.at(i) + 2.5f * x.at(i));
}

TEST(Axpy, AddsScaledVector) {
  const int64_t n = 13;
  Tensor x = random_tensor({n}, 18), y = random_tensor({n}, 19), y0 = y.copy();
  axpy(y.data(), x.data(), 3.0f, n);
  for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(y.at(i), y0.at(i) + 3.0f * x.at(i));
}

TEST(SumRowsAccumulate, MatchesDoubleSumAndIgnoresThreadCount) {
  const int64_t outer = 2003, inner = 33;  // above the parallel threshold, not a multiple of the chunk count
  Tensor x = random_tensor({outer, inner}, 20);
  std::vector<double> ref(inner, 1.0);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) ref[i] += x.at(o * inner + i);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<float> out(inner, 1.0f);
    sum_rows_accumulate(out.data(), x.data(), outer, inner);
    results.push_back(out);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  for (int64_t i = 0; i < inner; ++i) EXPECT_NEAR(results[0][i], ref[i], 1e-3);
}

}  // namespace
}  // namespace tfm
