// tools/parallel_data: batches built from sentence pairs (exact layout of
// source, padding mask, decoder input and target), token-count batching
// within its budget, every pair once per epoch, seeded layouts, and seek()
// that lands on the batch an uninterrupted stream would give.
#include <algorithm>
#include <map>
#include <set>

#include "tools/data/parallel_data.h"
#include "test_util.h"
#include "tools/text/text_files.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr int32_t kBos = 1, kEos = 2, kPad = 3;

std::vector<int32_t> ids(const Tensor& t, int64_t row) {
  const int64_t n = t.dim(1);
  return std::vector<int32_t>(t.data_i32() + row * n, t.data_i32() + (row + 1) * n);
}

TEST(ParallelData, MakeBatchPadsAndShiftsExactly) {
  const SentencePair a{{10, 11, 12, kEos}, {20, 21}}, b{{13, kEos}, {22, 23, 24, 25}};
  const Batch batch = make_batch({&a, &b}, kBos, kEos, kPad);
  ASSERT_EQ(batch.source.shape(), Shape({2, 4}));
  ASSERT_EQ(batch.input.shape(), Shape({2, 5}));  // longest target + 1 (bos in front / eos behind)
  EXPECT_EQ(ids(batch.source, 0), (std::vector<int32_t>{10, 11, 12, kEos}));
  EXPECT_EQ(ids(batch.source, 1), (std::vector<int32_t>{13, kEos, kPad, kPad}));
  EXPECT_EQ(ids(batch.source_padding, 0), (std::vector<int32_t>{0, 0, 0, 0}));
  EXPECT_EQ(ids(batch.source_padding, 1), (std::vector<int32_t>{0, 0, 1, 1}));
  EXPECT_EQ(ids(batch.input, 0), (std::vector<int32_t>{kBos, 20, 21, kPad, kPad}));
  EXPECT_EQ(ids(batch.target, 0), (std::vector<int32_t>{20, 21, kEos, -100, -100}));
  EXPECT_EQ(ids(batch.input, 1), (std::vector<int32_t>{kBos, 22, 23, 24, 25}));
  EXPECT_EQ(ids(batch.target, 1), (std::vector<int32_t>{22, 23, 24, 25, kEos}));
  EXPECT_EQ(batch_target_tokens(batch), 3 + 5);
}

// Pairs of lengths 1..40 on either side, in a fixed pseudo-random mix.
std::vector<SentencePair> pairs(int n, uint64_t seed = 5) {
  std::vector<SentencePair> out;
  Generator g(seed);
  for (int i = 0; i < n; ++i) {
    SentencePair p;
    p.source.assign(1 + g.next_below(40), 7 + i % 50);
    p.source.back() = kEos;
    p.target.assign(1 + g.next_below(40), 7 + i % 50);
    p.target[0] = 1000 + i;  // identifies the pair
    out.push_back(p);
  }
  return out;
}

ParallelBatching budget(int64_t tokens, int64_t pool = 64) {
  ParallelBatching b;
  b.batch_tokens = tokens;
  b.sort_pool = pool;
  b.seed = 9;
  return b;
}

TEST(ParallelData, BatchesKeepTheTokenBudgetAndCoverEveryPairOncePerEpoch) {
  const std::vector<SentencePair> train = pairs(300);
  ParallelData data(train, pairs(20, 6), budget(200), kBos, kEos, kPad);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto layout = data.layout(epoch);
    std::multiset<int64_t> seen;
    for (const auto& rows : layout) {
      int64_t longest = 0;
      for (int64_t i : rows) {
        seen.insert(i);
        longest = std::max<int64_t>(longest, std::max(train[i].source.size(), train[i].target.size() + 1));
      }
      EXPECT_LE(longest * static_cast<int64_t>(rows.size()), 200);
    }
    EXPECT_EQ(seen.size(), train.size());
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), train.size()) << "a pair twice in an epoch";
  }
  EXPECT_NE(data.layout(0), data.layout(1)) << "epochs must be shuffled differently";
  // Sorting within pools: batches are far less padded than random ones would be.
  int64_t padded = 0, real = 0;
  for (const auto& rows : data.layout(0)) {
    int64_t longest = 0;
    for (int64_t i : rows) longest = std::max<int64_t>(longest, train[i].target.size() + 1);
    for (int64_t i : rows) padded += longest, real += static_cast<int64_t>(train[i].target.size()) + 1;
  }
  EXPECT_LT(static_cast<double>(padded) / static_cast<double>(real), 1.6);
}

TEST(ParallelData, NextFollowsTheLayoutAcrossEpochsAndSeekReplaysIt) {
  const std::vector<SentencePair> train = pairs(120);
  ParallelData a(train, pairs(10, 6), budget(300), kBos, kEos, kPad);
  const int64_t per_epoch = a.batches_per_epoch();
  ASSERT_GT(per_epoch, 3);
  std::vector<Batch> stream;
  for (int64_t i = 0; i < 2 * per_epoch + 3; ++i) stream.push_back(a.next());
  // The first epoch is layout(0), in order.
  const auto layout = a.layout(0);
  for (int64_t k = 0; k < per_epoch; ++k) {
    ASSERT_EQ(stream[k].batch_size(), static_cast<int64_t>(layout[k].size()));
    EXPECT_EQ(stream[k].input.data_i32()[1], train[layout[k][0]].target[0]) << "batch " << k;
  }
  // Seeking to any position (epoch boundaries included) continues the same stream.
  for (uint64_t pos : {uint64_t{0}, uint64_t{1}, static_cast<uint64_t>(per_epoch - 1), static_cast<uint64_t>(per_epoch),
                       static_cast<uint64_t>(2 * per_epoch + 1)}) {
    ParallelData b(train, pairs(10, 6), budget(300), kBos, kEos, kPad);
    b.seek(pos);
    EXPECT_EQ(b.position(), pos);
    const Batch x = b.next();
    ASSERT_EQ(x.input.shape(), stream[pos].input.shape()) << "position " << pos;
    EXPECT_EQ(ids(x.input, 0), ids(stream[pos].input, 0)) << "position " << pos;
    EXPECT_EQ(ids(x.source, x.batch_size() - 1), ids(stream[pos].source, x.batch_size() - 1)) << "position " << pos;
  }
  // Another seed, another order.
  ParallelBatching other = budget(300);
  other.seed = 10;
  EXPECT_NE(ParallelData(train, pairs(10, 6), other, kBos, kEos, kPad).layout(0), layout);
}

TEST(ParallelData, ValidationHoldsEveryPairOnceSortedByLength) {
  const std::vector<SentencePair> val = pairs(37, 8);
  ParallelData data(pairs(50), val, budget(150), kBos, kEos, kPad);
  std::multiset<int32_t> seen;
  int64_t previous = 0;
  for (const Batch& b : data.validation()) {
    EXPECT_LE(b.batch_size() * std::max(b.source.dim(1), b.input.dim(1)), 150);
    EXPECT_GE(b.input.dim(1), previous);
    previous = b.input.dim(1);
    for (int64_t r = 0; r < b.batch_size(); ++r) seen.insert(b.input.data_i32()[r * b.input.dim(1) + 1]);
  }
  std::multiset<int32_t> want;
  for (const auto& p : val) want.insert(p.target[0]);
  EXPECT_EQ(seen, want);
}

TEST(ParallelData, SentenceCountBatches) {
  ParallelBatching by_count;
  by_count.batch_size = 7;
  by_count.sort_pool = 1000;
  ParallelData data(pairs(50), pairs(5, 6), by_count, kBos, kEos, kPad);
  int64_t total = 0;
  for (const auto& rows : data.layout(0)) {
    EXPECT_TRUE(rows.size() == 7 || rows.size() == 50 % 7) << rows.size();
    total += static_cast<int64_t>(rows.size());
  }
  EXPECT_EQ(total, 50);
}

TEST(ParallelData, ErrorsNameTheProblem) {
  EXPECT_CONTAINS(error_message([] { ParallelData({}, pairs(3), budget(100), kBos, kEos, kPad); }),
                  "no training pairs");
  EXPECT_CONTAINS(error_message([] { ParallelData(pairs(30), pairs(3), budget(20), kBos, kEos, kPad); }),
                  "train.batch_tokens = 20 cannot hold the longest training pair");
}

TEST(ParallelData, ReadLinesKeepsEmptyLinesAndDropsCarriageReturns) {
  TempDir dir;
  dir.file("a.txt", "one\r\n\ntwo\nthree");
  EXPECT_EQ(read_lines({dir.path("a.txt")}, "a"), (std::vector<std::string>{"one", "", "two", "three"}));
  dir.file("empty.txt", "");
  EXPECT_CONTAINS(error_message([&] { read_lines({dir.path("empty.txt")}, "data.val.source"); }),
                  "data.val.source: no lines");
}

}  // namespace
}  // namespace tfm
