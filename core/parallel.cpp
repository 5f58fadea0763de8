#include "core/parallel.h"

#include <omp.h>
#include <sched.h>

#include <thread>

namespace tfm {

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : available_cores()); }

int num_threads() { return omp_get_max_threads(); }

}  // namespace tfm
