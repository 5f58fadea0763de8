#pragma once
// Caching allocator for tensor storage: 64-byte aligned blocks, freed blocks
// are kept in per-size free lists and handed out again, so a training step
// that repeats the shapes of the previous one allocates nothing from the OS.
#include <cstddef>
#include <cstdint>
#include <string>

namespace tfm {

struct AllocatorStats {
  int64_t bytes_in_use = 0;     // handed out and not yet returned
  int64_t bytes_cached = 0;     // returned, kept for reuse
  int64_t peak_bytes_in_use = 0;
  int64_t os_allocations = 0;   // blocks obtained from the system so far
};

// Tensor memory is bounded, so that a hostile size (a crafted checkpoint, a
// config asking for more than the machine holds) ends in a tfm::Error naming
// the request instead of the kernel's out-of-memory killer. The limit on the
// bytes held (in use plus cached): the environment's TFM_MAX_MEMORY (bytes, or
// with a K, M, G or T suffix) when set, else 90% of the smaller of physical
// memory and the cgroup's memory.max.
int64_t allocator_memory_limit();

// While alive, tensor allocations on this thread may add up to `bytes` in all;
// the one that would pass it throws tfm::Error "<what>: ...". Bounds work whose
// size is known from elsewhere, e.g. building a model from a checkpoint's
// config must not need much more memory than the checkpoint's tensors.
class AllocationLimitGuard {
 public:
  AllocationLimitGuard(int64_t bytes, std::string what);
  ~AllocationLimitGuard();
  AllocationLimitGuard(const AllocationLimitGuard&) = delete;
  AllocationLimitGuard& operator=(const AllocationLimitGuard&) = delete;

 private:
  AllocationLimitGuard* previous_;
  int64_t remaining_;
  std::string what_;
  friend void* storage_allocate(size_t bytes);
};

void* storage_allocate(size_t bytes);
void storage_free(void* ptr, size_t bytes);
AllocatorStats allocator_stats();
// Returns every cached block to the system.
void allocator_release_cached();

}  // namespace tfm
