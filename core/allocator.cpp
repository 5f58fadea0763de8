#include "core/allocator.h"

#include <cstdlib>
#include <fstream>
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

thread_local AllocationLimitGuard* current_guard = nullptr;

// "123", "4K", "1.5G": bytes; -1 when not a size.
int64_t parse_size(const std::string& text) {
  size_t used = 0;
  double x = 0.0;
  try {
    x = std::stod(text, &used);
  } catch (const std::exception&) {
    return -1;
  }
  double unit = 1.0;
  if (used + 1 == text.size()) {
    switch (text[used]) {
      case 'K': case 'k': unit = 0x1p10; break;
      case 'M': case 'm': unit = 0x1p20; break;
      case 'G': case 'g': unit = 0x1p30; break;
      case 'T': case 't': unit = 0x1p40; break;
      default: return -1;
    }
  } else if (used != text.size()) {
    return -1;
  }
  const double bytes = x * unit;
  return bytes >= 1.0 && bytes < 0x1p62 ? static_cast<int64_t>(bytes) : -1;
}

int64_t machine_memory_limit() {
  int64_t limit = int64_t{1} << 62;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  while (meminfo >> key >> kib)
    if (key == "MemTotal:") {
      limit = kib * 1024;
      break;
    } else {
      meminfo.ignore(1 << 20, '\n');
    }
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string max;
  if (cgroup >> max && max != "max") {
    const int64_t m = parse_size(max);
    if (m > 0 && m < limit) limit = m;
  }
  return limit / 10 * 9;
}

}  // namespace

int64_t allocator_memory_limit() {
  static const int64_t limit = [] {
    const char* env = std::getenv("TFM_MAX_MEMORY");
    if (env == nullptr || *env == '\0') return machine_memory_limit();
    const int64_t m = parse_size(env);
    // Read once at the first allocation; a typo must not silently lift the bound.
    return m > 0 ? m : int64_t{-1};
  }();
  TFM_CHECK(limit > 0, "TFM_MAX_MEMORY=", std::getenv("TFM_MAX_MEMORY"),
            ": expected a size in bytes, optionally with a K, M, G or T suffix (for example 8G)");
  return limit;
}

AllocationLimitGuard::AllocationLimitGuard(int64_t bytes, std::string what)
    : previous_(current_guard), remaining_(bytes), what_(std::move(what)) {
  current_guard = this;
}

AllocationLimitGuard::~AllocationLimitGuard() { current_guard = previous_; }

void* storage_allocate(size_t bytes) {
  const size_t size = bucket_size(bytes);
  for (AllocationLimitGuard* g = current_guard; g != nullptr; g = g->previous_) {
    TFM_CHECK(static_cast<int64_t>(size) <= g->remaining_, g->what_, ": a tensor of ", bytes,
              " bytes would pass the bound of this step (", g->remaining_, " bytes left)");
  }
  for (AllocationLimitGuard* g = current_guard; g != nullptr; g = g->previous_) g->remaining_ -= static_cast<int64_t>(size);
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
  const int64_t limit = allocator_memory_limit();
  auto held = [&c] {
    std::lock_guard<std::mutex> lock(c.mu);
    return c.stats.bytes_in_use + c.stats.bytes_cached;
  };
  if (held() + static_cast<int64_t>(size) > limit) allocator_release_cached();
  const int64_t now = held();
  TFM_CHECK(now + static_cast<int64_t>(size) <= limit, "out of memory: a tensor of ", bytes, " bytes (",
            static_cast<double>(bytes) / 0x1p30, " GiB) would bring tfm's tensor memory to ",
            static_cast<double>(now + static_cast<int64_t>(size)) / 0x1p30, " GiB, above the limit of ",
            static_cast<double>(limit) / 0x1p30, " GiB (90% of this machine's memory, or TFM_MAX_MEMORY)");
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
