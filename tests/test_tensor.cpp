// Shape, Tensor (views, copies, typed access) and the caching allocator.
#include "core/allocator.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "test_util.h"

#include <string>
#include <vector>

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(Shape, ReportsExtentsNumelRowsAndLast) {
  Shape s{2, 3, 5};
  EXPECT_EQ(s.ndim(), 3);
  EXPECT_EQ(s.numel(), 30);
  EXPECT_EQ(s.rows(), 6);
  EXPECT_EQ(s.last(), 5);
  EXPECT_EQ(s.dim(-1), 5);
  EXPECT_EQ(s.dim(-3), 2);
  EXPECT_EQ(s.str(), "[2, 3, 5]");
  EXPECT_EQ(s, Shape({2, 3, 5}));
  EXPECT_NE(s, Shape({2, 15}));
  EXPECT_NE(s, Shape({2, 3, 6}));
}

TEST(Shape, ScalarShapeHasOneElement) {
  Shape s;
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.rows(), 1);
  EXPECT_EQ(s.str(), "[]");
}

TEST(Shape, OutOfRangeDimThrowsNamingTheShape) {
  Shape s{4, 7};
  std::string msg = error_message([&] { (void)s.dim(2); });
  EXPECT_NE(msg.find("[4, 7]"), std::string::npos) << msg;
  EXPECT_THROW((void)s.dim(-3), Error);
}

TEST(Shape, TooManyDimensionsOrNegativeExtentThrows) {
  EXPECT_THROW(Shape({1, 1, 1, 1, 1, 1, 1, 1, 1}), Error);
  EXPECT_THROW(Shape({2, -3}), Error);  // -1 alone is allowed: reshape's inferred extent
}

TEST(Tensor, NegativeExtentIsRejected) {
  // -1 is only meaningful to reshape.
  EXPECT_THROW(Tensor::empty({-1, 3}), Error);
  EXPECT_THROW(Tensor::zeros({2, -1}), Error);
  EXPECT_THROW(Tensor::from({-1, -1}, std::vector<float>{1.0f}), Error);
}

TEST(Tensor, FactoriesFillValues) {
  Tensor z = Tensor::zeros({3, 7});
  for (int64_t i = 0; i < z.numel(); ++i) EXPECT_EQ(z.at(i), 0.0f);
  Tensor f = Tensor::full({13}, 2.5f);
  for (int64_t i = 0; i < f.numel(); ++i) EXPECT_EQ(f.at(i), 2.5f);
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_EQ(f.nbytes(), 13 * sizeof(float));
  EXPECT_FALSE(Tensor().defined());
  EXPECT_TRUE(f.defined());
}

TEST(Tensor, FromCopiesValuesAndChecksCount) {
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from({2, 3}, v);
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.at(i), v[i]);
  v[0] = 100.0f;  // the tensor owns a copy
  EXPECT_EQ(t.at(0), 1.0f);
  std::string msg = error_message([&] { Tensor::from({4, 2}, v); });
  EXPECT_NE(msg.find("[4, 2]"), std::string::npos) << msg;
}

TEST(Tensor, FromIdsMakesI32Tensor) {
  std::vector<int32_t> ids{3, 0, 7, 1, 1};
  Tensor t = Tensor::from_ids({5}, ids);
  EXPECT_EQ(t.dtype(), DType::I32);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.data_i32()[i], ids[i]);
  EXPECT_THROW(Tensor::from_ids({6}, ids), Error);
}

TEST(Tensor, WrongDtypeAccessThrows) {
  Tensor ids = Tensor::zeros({4}, DType::I32);
  std::string msg = error_message([&] { (void)ids.data(); });
  EXPECT_NE(msg.find("I32"), std::string::npos) << msg;
  EXPECT_THROW((void)Tensor::zeros({4}).data_i32(), Error);
  EXPECT_THROW((void)ids.item(), Error);
  EXPECT_THROW((void)Tensor().data(), Error);
}

TEST(Tensor, ItemReadsOneElementAndRejectsMore) {
  EXPECT_EQ(Tensor::full({1}, -3.25f).item(), -3.25f);
  EXPECT_EQ(Tensor::full({1, 1, 1}, 4.0f).item(), 4.0f);
  std::string msg = error_message([] { (void)Tensor::zeros({2, 3}).item(); });
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
}

TEST(Tensor, ReshapeIsAViewSharingStorage) {
  Tensor t = random_tensor({6, 7}, 1);
  Tensor r = t.reshape({3, 14});
  EXPECT_EQ(r.shape(), Shape({3, 14}));
  EXPECT_TRUE(r.shares_storage(t));
  r.data()[20] = 42.0f;
  EXPECT_EQ(t.at(20), 42.0f);
}

TEST(Tensor, ReshapeInfersOneMinusOneExtent) {
  Tensor t = Tensor::zeros({2, 3, 7});
  EXPECT_EQ(t.reshape({-1, 7}).shape(), Shape({6, 7}));
  EXPECT_EQ(t.reshape({2, -1}).shape(), Shape({2, 21}));
  EXPECT_EQ(t.reshape({-1}).shape(), Shape({42}));
  EXPECT_THROW(t.reshape({-1, -1}), Error);
  EXPECT_THROW(t.reshape({-1, 5}), Error);
}

TEST(Tensor, BadReshapeThrowsNamingBothShapes) {
  Tensor t = Tensor::zeros({2, 3});
  std::string msg = error_message([&] { t.reshape({4, 2}); });
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 2]"), std::string::npos) << msg;
}

TEST(Tensor, SliceAndIndexAreViewsIntoTheSameStorage) {
  Tensor t = random_tensor({5, 3, 7}, 2);
  Tensor s = t.slice(1, 4);
  EXPECT_EQ(s.shape(), Shape({3, 3, 7}));
  EXPECT_TRUE(s.shares_storage(t));
  EXPECT_EQ(s.at(0), t.at(21));
  Tensor row = t[3];
  EXPECT_EQ(row.shape(), Shape({3, 7}));
  EXPECT_EQ(row.at(5), t.at(3 * 21 + 5));
  Tensor inner = t[4][2];
  EXPECT_EQ(inner.shape(), Shape({7}));
  EXPECT_EQ(inner.at(6), t.at(4 * 21 + 2 * 7 + 6));
  // Writes through a view are visible in the base and in overlapping views.
  row.data()[0] = 9.0f;
  EXPECT_EQ(t.at(63), 9.0f);
  EXPECT_EQ(s[2].at(0), 9.0f);
  // A reshape of a slice keeps the slice's offset.
  EXPECT_EQ(s.reshape({-1}).at(2 * 21), 9.0f);
}

TEST(Tensor, OutOfRangeSliceOrIndexThrows) {
  Tensor t = Tensor::zeros({4, 2});
  EXPECT_THROW(t.slice(2, 5), Error);
  EXPECT_THROW(t.slice(3, 2), Error);
  EXPECT_THROW(t[4], Error);
  EXPECT_THROW(t[-1], Error);
  EXPECT_EQ(t.slice(2, 2).numel(), 0);
}

TEST(Tensor, CopyIsIndependentOfTheOriginal) {
  Tensor t = random_tensor({13}, 3);
  Tensor c = t.copy();
  EXPECT_FALSE(c.shares_storage(t));
  expect_close(c, t, 0.0f);
  c.data()[0] = 123.0f;
  EXPECT_NE(t.at(0), 123.0f);
  // Copy of a view copies just the view.
  Tensor v = Tensor::from({3, 2}, std::vector<float>{0, 1, 2, 3, 4, 5})[1].copy();
  EXPECT_EQ(v.shape(), Shape({2}));
  EXPECT_EQ(v.at(0), 2.0f);
  EXPECT_EQ(v.at(1), 3.0f);
}

TEST(Tensor, CopyFromChecksSizeAndDtype) {
  Tensor dst = Tensor::zeros({2, 3});
  Tensor src = random_tensor({6}, 4);
  dst.copy_from(src);
  expect_close(dst.data(), src.data(), 6, 0.0f);
  EXPECT_THROW(dst.copy_from(Tensor::zeros({5})), Error);
  EXPECT_THROW(dst.copy_from(Tensor::zeros({6}, DType::I32)), Error);
}

TEST(Tensor, FillAndZeroOnAViewTouchOnlyTheView) {
  Tensor t = Tensor::full({4, 3}, 1.0f);
  t[1].zero();
  t[2].fill(5.0f);
  std::vector<float> expected{1, 1, 1, 0, 0, 0, 5, 5, 5, 1, 1, 1};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(t.at(i), expected[i]) << i;
}

TEST(Allocator, RequestsBeyondTheMemoryLimitAreErrorsNotOutOfMemoryKills) {
  const int64_t limit = allocator_memory_limit();
  EXPECT_GT(limit, int64_t{1} << 26);
  // 2^40 floats (4 TiB): more than any machine here; the error names the request and the limit.
  const std::string e = error_message([] { Tensor::empty({int64_t{1} << 20, int64_t{1} << 20}); });
  EXPECT_CONTAINS(e, "out of memory: a tensor of 4398046511104 bytes");
  EXPECT_CONTAINS(e, "above the limit of ");
  EXPECT_NO_THROW(Tensor::empty({1024, 1024}));  // and the allocator still works afterwards
}

TEST(Allocator, LimitGuardBoundsTheAllocationsOfAScope) {
  {
    AllocationLimitGuard guard(1 << 20, "building a thing");
    Tensor a = Tensor::empty({128, 1024});  // 512 KiB: fits
    Tensor b = Tensor::empty({64, 1024});   // 256 KiB more: 768 KiB in all, fits
    const std::string e = error_message([] { Tensor::empty({128, 1024}); });
    EXPECT_CONTAINS(e, "building a thing: a tensor of 524288 bytes would pass the bound of this step (262144 bytes left)");
  }
  EXPECT_NO_THROW(Tensor::empty({1024, 1024}));  // the bound ends with the guard
}

TEST(Shape, ExtentsWhoseProductPassesTwoToTheSixtyAreRejected) {
  // 2^32 · 2^32 wraps int64 to 0: a file claiming it with 0 data bytes must not pass as empty.
  EXPECT_CONTAINS(error_message([] { Shape({int64_t{1} << 32, int64_t{1} << 32}); }), "has more than 2^60 elements");
  EXPECT_CONTAINS(error_message([] { Shape({int64_t{1} << 31, int64_t{1} << 31, 2}); }), "has more than 2^60 elements");
  EXPECT_EQ(Shape({int64_t{1} << 30, int64_t{1} << 30}).numel(), int64_t{1} << 60);
  EXPECT_EQ(Shape({int64_t{1} << 40, 0, int64_t{1} << 40}).numel(), 0);
}

TEST(Allocator, FreedBlockIsReusedForTheSameSize) {
  constexpr size_t kBytes = 12345 * sizeof(float);
  void* first = storage_allocate(kBytes);
  storage_free(first, kBytes);
  const AllocatorStats before = allocator_stats();
  void* second = storage_allocate(kBytes);
  const AllocatorStats after = allocator_stats();
  EXPECT_EQ(after.os_allocations, before.os_allocations);
  EXPECT_EQ(second, first);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(second) % 64, 0u);
  storage_free(second, kBytes);
}

TEST(Allocator, TensorsOfARepeatedShapeAllocateNothingNew) {
  { Tensor warm = Tensor::empty({33, 7}); }
  const int64_t os_before = allocator_stats().os_allocations;
  for (int i = 0; i < 5; ++i) {
    Tensor t = Tensor::empty({33, 7});
    t.fill(1.0f);
  }
  EXPECT_EQ(allocator_stats().os_allocations, os_before);
}

TEST(Allocator, LargeRequestsReuseASomewhatLargerCachedBlock) {
  // Variable-length batches: a block freed by a larger step serves a smaller one (best fit, up to 2x).
  allocator_release_cached();
  constexpr size_t kBig = 3u << 20, kSmaller = 2u << 20, kTiny = 1u << 20;
  void* big = storage_allocate(kBig);
  storage_free(big, kBig);
  const int64_t os_before = allocator_stats().os_allocations;
  void* reused = storage_allocate(kSmaller);
  EXPECT_EQ(reused, big);
  EXPECT_EQ(allocator_stats().os_allocations, os_before);
  EXPECT_EQ(allocator_stats().bytes_cached, 0);
  storage_free(reused, kSmaller);  // back to the cache at its real size
  EXPECT_EQ(allocator_stats().bytes_cached, static_cast<int64_t>(kBig));
  // More than twice the request: not reused (the waste would be too large).
  void* tiny = storage_allocate(kTiny);
  EXPECT_NE(tiny, big);
  EXPECT_EQ(allocator_stats().os_allocations, os_before + 1);
  storage_free(tiny, kTiny);
  allocator_release_cached();
  EXPECT_EQ(allocator_stats().bytes_cached, 0);
}

TEST(Allocator, VaryingShapesKeepTheCacheBounded) {
  // Steps whose tensors change size every time (token-count batches): the memory held stays within
  // a small multiple of the largest step instead of growing with every new shape.
  allocator_release_cached();
  Generator gen(3);
  int64_t largest_step = 0;
  for (int step = 0; step < 200; ++step) {
    std::vector<std::pair<void*, size_t>> blocks;
    int64_t step_bytes = 0;
    for (int k = 0; k < 6; ++k) {
      const size_t bytes = (1u << 20) + gen.next_below(7u << 20);
      blocks.emplace_back(storage_allocate(bytes), bytes);
      step_bytes += static_cast<int64_t>(bytes);
    }
    largest_step = std::max(largest_step, step_bytes);
    for (auto& [p, n] : blocks) storage_free(p, n);
  }
  const AllocatorStats s = allocator_stats();
  EXPECT_EQ(s.bytes_in_use, 0);
  EXPECT_LT(s.bytes_cached, 4 * largest_step) << "cached " << s.bytes_cached << " largest step " << largest_step;
  allocator_release_cached();
}

TEST(Allocator, StatsTrackBytesInUseAndCached) {
  allocator_release_cached();
  const AllocatorStats s0 = allocator_stats();
  EXPECT_EQ(s0.bytes_cached, 0);
  void* p = storage_allocate(1000);  // rounded up to a 64-byte bucket
  EXPECT_EQ(allocator_stats().bytes_in_use, s0.bytes_in_use + 1024);
  EXPECT_GE(allocator_stats().peak_bytes_in_use, s0.bytes_in_use + 1024);
  storage_free(p, 1000);
  EXPECT_EQ(allocator_stats().bytes_in_use, s0.bytes_in_use);
  EXPECT_EQ(allocator_stats().bytes_cached, 1024);
  allocator_release_cached();
  EXPECT_EQ(allocator_stats().bytes_cached, 0);
}

}  // namespace
}  // namespace tfm
