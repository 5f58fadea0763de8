// One OpenMP runtime in the process: tfm's own loops and oneDNN's must share
// a thread pool (core/parallel.h), in every build, including the asan-ubsan
// preset's clang build (libomp serving libgomp's GOMP_* entry points).
#include <dlfcn.h>
#include <omp.h>

#include <string>

#include <gtest/gtest.h>

#include "core/parallel.h"

namespace {

std::string library_of(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  if (address == nullptr) return std::string("(no ") + symbol + ")";
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "(unknown library)";
  return info.dli_fname;
}

}  // namespace

// oneDNN (Debian's, built with GCC) opens its parallel regions through
// GOMP_parallel and asks omp_get_thread_num inside them: both must resolve to
// the runtime tfm's own #pragma omp regions use.
TEST(OpenMp, OneRuntimeServesTfmAndOneDnn) {
  const std::string gomp_entry = library_of("GOMP_parallel");
  const std::string omp_api = library_of("omp_get_thread_num");
  EXPECT_EQ(gomp_entry, omp_api);
  EXPECT_EQ(gomp_entry.find("(no "), std::string::npos) << gomp_entry;
}

// A compiler that parses #pragma omp but emits no OpenMP code (clang's
// -fopenmp=libgomp) would run every region on one thread.
TEST(OpenMp, ParallelRegionsRunOnTheRequestedThreads) {
  if (tfm::available_cores() < 2) GTEST_SKIP() << "needs 2 cores, this machine has " << tfm::available_cores();
  const int before = tfm::num_threads();
  tfm::set_num_threads(2);
  int threads = 0;
#pragma omp parallel
  {
#pragma omp atomic
    ++threads;
  }
  tfm::set_num_threads(before);
  EXPECT_EQ(threads, 2);
}
