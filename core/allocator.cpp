#include "core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace tfm {
namespace {

constexpr size_t kAlignment = 64;

// Sizes are rounded to a bucket so that nearly equal requests share blocks:
// 64 B granularity up to 64 KiB, 4 KiB above.
size_t bucket_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  size_t g = bytes <= (64u << 10) ? 64 : 4096;
  return (bytes + g - 1) / g * g;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destructors
  return *c;
}

}  // namespace

void* storage_allocate(size_t bytes) {
  size_t size = bucket_size(bytes);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.bytes_cached -= size;
      c.stats.bytes_in_use += size;
      if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlignment, size);
  if (p == nullptr) {
    allocator_release_cached();
    p = std::aligned_alloc(kAlignment, size);
  }
  TFM_CHECK(p != nullptr, "out of memory: could not allocate ", size, " bytes for a tensor");
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.os_allocations++;
  c.stats.bytes_in_use += size;
  if (c.stats.bytes_in_use > c.stats.peak_bytes_in_use) c.stats.peak_bytes_in_use = c.stats.bytes_in_use;
  return p;
}

void storage_free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  size_t size = bucket_size(bytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_blocks[size].push_back(ptr);
  c.stats.bytes_in_use -= size;
  c.stats.bytes_cached += size;
}

AllocatorStats allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void allocator_release_cached() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free_blocks) {
    for (void* p : blocks) std::free(p);
    c.stats.bytes_cached -= static_cast<int64_t>(size * blocks.size());
    blocks.clear();
  }
}

}  // namespace tfm
