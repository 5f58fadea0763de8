// Philox4x32-10 and the Generator built on it.
#include <omp.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/rng.h"
#include "test_util.h"

namespace tfm {
namespace {

using Block = std::array<uint32_t, 4>;

// Known-answer vectors from Random123's kat_vectors (philox4x32 10).
TEST(Philox, MatchesRandom123KnownAnswerForZeroCounterAndKey) {
  EXPECT_EQ(philox4x32_10({0, 0, 0, 0}, {0, 0}), (Block{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
}

TEST(Philox, MatchesRandom123KnownAnswerForAllOnes) {
  EXPECT_EQ(philox4x32_10({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (Block{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
}

TEST(Philox, MatchesRandom123KnownAnswerForPiDigits) {
  EXPECT_EQ(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (Block{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

TEST(Generator, BlockIsPhiloxOfIndexUnderSeedKey) {
  const uint64_t seed = 0x0123456789abcdefull, index = 0x00000005fffffffeull;
  Generator g(seed);
  EXPECT_EQ(g.block(index), philox4x32_10({0xfffffffe, 0x5, 0, 0}, {0x89abcdef, 0x01234567}));
}

TEST(Generator, WordsAreTheBlocksWordsForAnyStartAndLength) {
  // The vectorised bulk path must give exactly block(w / 4)[w % 4], across
  // 16-block groups, partial first/last blocks and counters crossing 2^32 blocks.
  const Generator gen(0x0123456789abcdefULL);
  for (uint64_t first : {uint64_t{0}, uint64_t{1}, uint64_t{3}, uint64_t{4}, uint64_t{65}, (uint64_t{1} << 34) - 6})
    for (int64_t n : {1, 2, 3, 4, 5, 63, 64, 65, 257}) {
      std::vector<uint32_t> got(static_cast<size_t>(n) + 1, 0xdeadbeefu);
      gen.words(first, n, got.data());
      for (int64_t i = 0; i < n; ++i) {
        const uint64_t w = first + static_cast<uint64_t>(i);
        ASSERT_EQ(got[i], gen.block(w / 4)[w % 4]) << "first " << first << " n " << n << " i " << i;
      }
      EXPECT_EQ(got[n], 0xdeadbeefu) << "wrote past the end";
    }
}

TEST(Generator, SavedSeedAndOffsetReproduceTheSequence) {
  Generator g(42);
  for (int i = 0; i < 7; ++i) g.next_u32();
  std::vector<float> skip(10);
  fill_uniform(skip.data(), 10, 0.0f, 1.0f, g);
  const uint64_t seed = g.seed(), offset = g.offset();
  EXPECT_EQ(offset, 7u + 3u);  // 10 floats take 3 blocks

  std::vector<uint32_t> a;
  std::vector<float> fa(33);
  for (int i = 0; i < 5; ++i) a.push_back(g.next_u32());
  fill_normal(fa.data(), 33, 0.0f, 1.0f, g);
  const double ua = g.next_uniform();

  Generator h(0);
  h.set_state(seed, offset);
  std::vector<uint32_t> b;
  std::vector<float> fb(33);
  for (int i = 0; i < 5; ++i) b.push_back(h.next_u32());
  fill_normal(fb.data(), 33, 0.0f, 1.0f, h);
  EXPECT_EQ(a, b);
  EXPECT_EQ(fa, fb);
  EXPECT_EQ(h.next_uniform(), ua);
  EXPECT_EQ(h.offset(), g.offset());

  Generator k(seed, offset);  // constructor takes the same state
  EXPECT_EQ(k.next_u32(), a[0]);
}

TEST(Generator, DifferentSeedsGiveDifferentStreams) {
  Generator a(1), b(2);
  int same = 0;
  for (int i = 0; i < 64; ++i) same += a.next_u32() == b.next_u32();
  EXPECT_LT(same, 2);
}

TEST(Generator, ReserveAdvancesTheOffset) {
  Generator g(3, 10);
  EXPECT_EQ(g.reserve(5), 10u);
  EXPECT_EQ(g.reserve(1), 15u);
  EXPECT_EQ(g.offset(), 16u);
}

TEST(Generator, NextUniformAndNextBelowStayInRange) {
  Generator g(9);
  std::set<uint64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const double u = g.next_uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const uint64_t k = g.next_below(7);
    ASSERT_LT(k, 7u);
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 7u);
  EXPECT_EQ(g.next_below(1), 0u);
}

TEST(FillUniform, StaysInRangeWithRoughlyTheRightMean) {
  constexpr int64_t n = 100003;  // odd: the last block is partial
  std::vector<float> x(n);
  Generator g(5);
  fill_uniform(x.data(), n, -2.0f, 3.0f, g);
  double sum = 0.0;
  for (float v : x) {
    ASSERT_GE(v, -2.0f);
    ASSERT_LT(v, 3.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.03);
  EXPECT_EQ(g.offset(), static_cast<uint64_t>((n + 3) / 4));
}

TEST(FillNormal, MeanAndStdAreRoughlyRight) {
  constexpr int64_t n = 100000;
  std::vector<float> x(n);
  Generator g(6);
  fill_normal(x.data(), n, 1.5f, 2.0f, g);
  double sum = 0.0, sum_sq = 0.0;
  for (float v : x) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
    sum_sq += static_cast<double>(v) * v;
  }
  const double mean = sum / n, std = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(mean, 1.5, 0.03);  // standard error 2/√1e5 ≈ 0.0063
  EXPECT_NEAR(std, 2.0, 0.03);
}

// Runs fill with a given OpenMP thread count; n is large enough to take the parallel path.
template <typename Fill>
std::vector<float> fill_with_threads(int threads, Fill fill) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  std::vector<float> x(100001);
  Generator g(77, 13);
  fill(x.data(), static_cast<int64_t>(x.size()), g);
  omp_set_num_threads(saved);
  return x;
}

TEST(FillUniform, IdenticalWithOneAndTwoThreads) {
  auto fill = [](float* p, int64_t n, Generator& g) { fill_uniform(p, n, -1.0f, 1.0f, g); };
  EXPECT_EQ(fill_with_threads(1, fill), fill_with_threads(2, fill));
}

TEST(FillNormal, IdenticalWithOneAndTwoThreads) {
  auto fill = [](float* p, int64_t n, Generator& g) { fill_normal(p, n, 0.0f, 1.0f, g); };
  EXPECT_EQ(fill_with_threads(1, fill), fill_with_threads(2, fill));
}

TEST(FillUniform, SplitFillsEqualOneFillWhenBlockAligned) {
  // Values depend only on (seed, counter): two fills of 8 equal one fill of 16.
  Generator a(11), b(11);
  std::vector<float> one(16), two(16);
  fill_uniform(one.data(), 16, 0.0f, 1.0f, a);
  fill_uniform(two.data(), 8, 0.0f, 1.0f, b);
  fill_uniform(two.data() + 8, 8, 0.0f, 1.0f, b);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace tfm
