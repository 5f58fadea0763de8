#pragma once
// Helpers shared by the unit tests: seeded random tensors and naive references.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/variable.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace tfm::testing {

inline Tensor random_tensor(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Tensor t = Tensor::empty(shape);
  Generator g(seed);
  fill_uniform(t.data(), t.numel(), low, high, g);
  return t;
}

inline Variable random_param(const Shape& shape, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  return Variable(random_tensor(shape, seed, low, high), true);
}

inline Tensor random_ids(const Shape& shape, int32_t vocab, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::I32);
  Generator g(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_i32()[i] = static_cast<int32_t>(g.next_below(vocab));
  return t;
}

inline void expect_close(const float* a, const float* b, int64_t n, float atol, float rtol = 0.0f) {
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(a[i], b[i], atol + rtol * std::fabs(b[i])) << "at element " << i;
}

inline void expect_close(const Tensor& a, const Tensor& b, float atol, float rtol = 0.0f) {
  ASSERT_EQ(a.shape(), b.shape());
  expect_close(a.data(), b.data(), a.numel(), atol, rtol);
}

#define EXPECT_GRADCHECK(fn, inputs, ...)                                         \
  do {                                                                            \
    ::tfm::GradcheckResult _r = ::tfm::gradcheck((fn), (inputs), ##__VA_ARGS__);  \
    EXPECT_TRUE(_r.ok) << _r.report;                                              \
    EXPECT_GT(_r.checked, 0);                                                     \
  } while (0)

}  // namespace tfm::testing
