// core/kernels/convert: fp32 <-> bf16. Narrowing is checked against a
// reference that rounds by value, in double: of the two bf16 neighbours of x
// it picks the nearer, the even one on a tie, and Inf past the largest bf16
// (the neighbour above it counts as 2^128, as IEEE-754 rounding does). Every
// one of the 65536 bf16 patterns is checked with the dropped 16 bits at their
// edges (0, 1, just below and above one half, exactly one half, all ones), so
// every exponent, subnormals and both zeros included, sees ties and near-ties.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/kernels/convert.h"
#include "core/parallel.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

uint32_t bits_of(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float float_of(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// The value of a finite bf16 from its fields: (-1)^s · 1.m · 2^(e−127), or 0.m · 2^−126.
double bf16_value(uint32_t b) {
  const int sign = (b >> 15) & 1, exponent = (b >> 7) & 0xff, mantissa = b & 0x7f;
  const double magnitude = exponent == 0 ? std::ldexp(static_cast<double>(mantissa), -126 - 7)
                                         : std::ldexp(static_cast<double>(128 + mantissa), exponent - 127 - 7);
  return sign ? -magnitude : magnitude;
}

// The correctly rounded bf16 of a finite x: the nearer of the neighbours below and above |x|.
uint32_t reference_to_bf16(float x) {
  const uint32_t u = bits_of(x);
  const uint32_t sign = (u >> 16) & 0x8000, down = (u >> 16) & 0x7fff;  // truncation: |bf16| <= |x|
  const uint32_t up = down + 1;
  const double ax = std::fabs(static_cast<double>(x));
  const double below = std::fabs(bf16_value(down));
  const double above = up == 0x7f80 ? std::ldexp(1.0, 128) : std::fabs(bf16_value(up));
  if (ax == below) return sign | down;
  const double d_below = ax - below, d_above = above - ax;
  const bool take_up = d_above < d_below || (d_above == d_below && (up & 1) == 0);
  return sign | (take_up ? up : down);
}

TEST(ConvertBf16, KnownValues) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16(-2.0f), 0xc000);
  EXPECT_EQ(to_bf16(3.14159265f), 0x4049);              // 3.140625
  EXPECT_EQ(to_bf16(float_of(0x3f808000)), 0x3f80);     // 1 + 2^-8: a tie, the even neighbour below
  EXPECT_EQ(to_bf16(float_of(0x3f818000)), 0x3f82);     // a tie with an odd neighbour below: up
  EXPECT_EQ(to_bf16(float_of(0x3f808001)), 0x3f81);     // just above the tie: up
  EXPECT_EQ(to_bf16(float_of(0x3f807fff)), 0x3f80);     // just below: down
  EXPECT_EQ(to_bf16(0.0f), 0x0000);
  EXPECT_EQ(to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(to_bf16(float_of(0x00000001)), 0x0000);     // the smallest subnormal rounds to +0
  EXPECT_EQ(to_bf16(float_of(0x80008000)), 0x8000);     // a subnormal tie: -0 (even)
  EXPECT_EQ(to_bf16(float_of(0x00018000)), 0x0002);     // a subnormal tie, odd below: up
  EXPECT_EQ(to_bf16(float_of(0x00008001)), 0x0001);
  EXPECT_EQ(to_bf16(float_of(0x007fffff)), 0x0080);     // the largest subnormal rounds up to the smallest normal
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()), 0x7f80);   // past the largest bf16: Inf
  EXPECT_EQ(to_bf16(float_of(0x7f7f7fff)), 0x7f7f);     // just below the tie with 2^128: the largest bf16
  EXPECT_EQ(to_bf16(float_of(0xff7f8000)), 0xff80);     // the tie itself: -Inf (even)
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_EQ(to_bf16(float_of(0x7fc00000)), 0x7fc0);     // quiet NaN
  EXPECT_EQ(to_bf16(float_of(0x7f800001)), 0x7fc0);     // a NaN with its payload in the dropped bits stays NaN
  EXPECT_EQ(to_bf16(float_of(0xff810000)), 0xffc1);     // signalling NaN: quieted, sign and payload kept
  EXPECT_EQ(from_bf16(0x3f80), 1.0f);
  EXPECT_EQ(from_bf16(0x0001), std::ldexp(1.0f, -133));
  EXPECT_EQ(bits_of(from_bf16(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(from_bf16(0xff80)) && from_bf16(0xff80) < 0);
}

TEST(ConvertBf16, NarrowingRoundsToNearestEvenAtEveryExponent) {
  int64_t checked = 0;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    for (uint32_t low : {0x0000u, 0x0001u, 0x7fffu, 0x8000u, 0x8001u, 0xffffu, 0x4321u, 0xc0deu}) {
      const uint32_t u = (b << 16) | low;
      const float x = float_of(u);
      const bf16_t got = to_bf16(x);
      if (std::isnan(x)) {
        ASSERT_TRUE(std::isnan(from_bf16(got))) << std::hex << u;
        ASSERT_EQ(got & 0x8000, (u >> 16) & 0x8000) << std::hex << u;
        ASSERT_NE(got & 0x0040, 0) << "a NaN comes out quiet: " << std::hex << u;
      } else if (std::isinf(x)) {
        ASSERT_EQ(got, u >> 16) << std::hex << u;
      } else {
        ASSERT_EQ(got, reference_to_bf16(x)) << "x = " << x << " (0x" << std::hex << u << ")";
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8 * 65536);
}

TEST(ConvertBf16, WideningIsExactForEveryPattern) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float x = from_bf16(static_cast<bf16_t>(b));
    const int exponent = (b >> 7) & 0xff;
    if (exponent == 0xff) {
      ASSERT_EQ((b & 0x7f) != 0, std::isnan(x)) << std::hex << b;
      ASSERT_EQ(bits_of(x), b << 16) << std::hex << b;
      continue;
    }
    ASSERT_EQ(static_cast<double>(x), bf16_value(b)) << std::hex << b;
    ASSERT_EQ(to_bf16(x), b) << "every bf16 is a float that narrows back to itself: " << std::hex << b;
  }
}

TEST(ConvertBf16, ArraysMatchTheScalarFormsAtAnyLengthAndThreadCount) {
  // Odd lengths on both sides of the parallel threshold, with specials mixed in.
  const int threads_before = num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t n : {int64_t{1}, int64_t{17}, int64_t{1000}, int64_t{200003}}) {
      const Tensor r = random_tensor({n}, 7, -1e4f, 1e4f);
      std::vector<float> src(r.data(), r.data() + n);
      for (int64_t i = 0; i < n; i += 97) src[i] = float_of(static_cast<uint32_t>(i) * 2654435761u);
      std::vector<bf16_t> narrow(n);
      std::vector<float> wide(n);
      f32_to_bf16(src.data(), narrow.data(), n);
      bf16_to_f32(narrow.data(), wide.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(narrow[i], to_bf16(src[i])) << "n = " << n << ", i = " << i;
        ASSERT_EQ(bits_of(wide[i]), static_cast<uint32_t>(narrow[i]) << 16) << "n = " << n << ", i = " << i;
      }
    }
  }
  set_num_threads(threads_before);
}

}  // namespace
}  // namespace tfm
