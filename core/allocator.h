#pragma once
// Caching allocator for tensor storage: 64-byte aligned blocks, freed blocks
// are kept in per-size free lists and handed out again, so a training step
// that repeats the shapes of the previous one allocates nothing from the OS.
#include <cstddef>
#include <cstdint>

namespace tfm {

struct AllocatorStats {
  int64_t bytes_in_use = 0;     // handed out and not yet returned
  int64_t bytes_cached = 0;     // returned, kept for reuse
  int64_t peak_bytes_in_use = 0;
  int64_t os_allocations = 0;   // blocks obtained from the system so far
};

void* storage_allocate(size_t bytes);
void storage_free(void* ptr, size_t bytes);
AllocatorStats allocator_stats();
// Returns every cached block to the system.
void allocator_release_cached();

}  // namespace tfm
