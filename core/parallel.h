#pragma once
// Thread control. tfm parallelises with OpenMP (GNU libgomp, the runtime
// Debian's oneDNN uses), so one thread pool serves tfm's loops and oneDNN.
// The clang asan-ubsan build uses libomp, which also serves oneDNN's GOMP_*
// calls (tests/test_parallel.cpp checks both).
namespace tfm {

// n <= 0 means all available cores.
void set_num_threads(int n);
int num_threads();
int available_cores();

}  // namespace tfm
