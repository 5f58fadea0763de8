#include "core/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace tfm {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kSmall = 64u << 10;  // up to here: exact 64-byte buckets

// Sizes are rounded to a bucket so that nearly equal requests share blocks:
// 64 B granularity up to 64 KiB; above, eight size classes per power of two
// (at most 12.5% rounding).
size_t bucket_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= kSmall) return (bytes + 63) / 64 * 64;
  const size_t octave = size_t{1} << (63 - __builtin_clzll(static_cast<unsigned long long>(bytes)));  // <= bytes
  const size_t step = octave / 8;
  return (bytes + step - 1) / step * step;
}

// Small blocks: per-size free lists. Large blocks: one size-ordered free list
// served best fit (the smallest cached block of at least the request and at
// most twice it), so that variable-length batches, whose shapes change every
// step, reuse the blocks of earlier steps instead of asking the OS for fresh
// pages. Large blocks in use remember their real size. When a large request
// must go to the OS while the cache holds more than the peak working set, the
// cached blocks too small for it are returned to the system: memory stays
// bounded by about twice the largest step.
struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> small_free;
  std::multimap<size_t, void*> large_free;
  std::unordered_map<void*, size_t> large_used;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

void note_handed_out(Cache& c, size_t size) {
  c.stats.bytes_in_use += static_cast<int64_t>(size);
  if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
}

}  // namespace

void* storage_allocate(size_t bytes) {
  const size_t size = bucket_size(bytes);
  Cache& c = cache();
  std::vector<void*> to_free;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (size <= kSmall) {
      auto it = c.small_free.find(size);
      if (it != c.small_free.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        c.stats.bytes_cached -= static_cast<int64_t>(size);
        note_handed_out(c, size);
        return p;
      }
    } else {
      auto it = c.large_free.lower_bound(size);
      if (it != c.large_free.end() && it->first <= 2 * size) {
        const size_t real = it->first;
        void* p = it->second;
        c.large_free.erase(it);
        c.large_used[p] = real;
        c.stats.bytes_cached -= static_cast<int64_t>(real);
        note_handed_out(c, real);
        return p;
      }
      if (c.stats.bytes_cached > c.stats.peak_bytes_in_use) {
        for (auto f = c.large_free.begin(); f != c.large_free.end() && f->first < size;) {
          to_free.push_back(f->second);
          c.stats.bytes_cached -= static_cast<int64_t>(f->first);
          f = c.large_free.erase(f);
        }
      }
    }
  }
  for (void* p : to_free) std::free(p);
  void* p = std::aligned_alloc(kAlignment, size);
  if (p == nullptr) {
    allocator_release_cached();
    p = std::aligned_alloc(kAlignment, size);
  }
  TFM_CHECK(p != nullptr, "out of memory: could not allocate ", size, " bytes for a tensor");
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.os_allocations++;
  if (size > kSmall) c.large_used[p] = size;
  note_handed_out(c, size);
  return p;
}

void storage_free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  size_t size = bucket_size(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (size <= kSmall) {
    c.small_free[size].push_back(ptr);
  } else {
    auto it = c.large_used.find(ptr);
    TFM_CHECK(it != c.large_used.end(), "storage_free: unknown block of ", bytes, " bytes");
    size = it->second;
    c.large_used.erase(it);
    c.large_free.emplace(size, ptr);
  }
  c.stats.bytes_in_use -= static_cast<int64_t>(size);
  c.stats.bytes_cached += static_cast<int64_t>(size);
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void allocator_release_cached() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.small_free) {
    for (void* p : blocks) std::free(p);
    c.stats.bytes_cached -= static_cast<int64_t>(size * blocks.size());
    blocks.clear();
  }
  for (auto& [size, p] : c.large_free) {
    std::free(p);
    c.stats.bytes_cached -= static_cast<int64_t>(size);
  }
  c.large_free.clear();
}

}  // namespace tfm
