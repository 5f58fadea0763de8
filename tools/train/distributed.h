#pragma once
// Data-parallel training over MPI (OpenMPI): the process group, and the
// gradient reducer that averages gradients across ranks in buckets, each
// started (MPI_Iallreduce) as soon as its gradients are final in the backward
// pass so that communication overlaps the rest of it.
//
// The group is MPI_COMM_WORLD when the process was started by mpirun and tfm
// was built with MPI (TFM_WITH_MPI); otherwise a group of one, in which every
// call here is a no-op, so the trainer has one code path.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "optim/optimizer.h"

namespace tfm::dist {

// Starts MPI when launched by mpirun (with MPI compiled in). Call once, first thing in main.
void init(int* argc, char*** argv);
// Ends MPI cleanly (no-op without it). Called by main on a normal exit.
void finalize();
// Ends every rank of the job with this exit code (MPI_Abort); a plain exit without MPI.
[[noreturn]] void abort_job(int code);

bool compiled_with_mpi();
int rank();
int size();
// Ranks on this host (for the default thread count: cores divided by local ranks).
int local_size();
inline bool is_root() { return rank() == 0; }

// In place, blocking, over all ranks.
void allreduce_sum(double* values, int count);
void allreduce_sum(float* values, int64_t count);
void barrier();

// Averages the gradients of `params` over the ranks. Usage, every step:
//   { GradReadyHookGuard guard(reducer.hook()); loss.backward(); }
//   reducer.finish();  // all gradients now hold the average over the ranks
// Buckets take parameters in reverse registration order (the order backward
// finishes them), about `bucket_bytes` each, and are started strictly in that
// order so that every rank issues the same collectives in the same order.
class GradientReducer {
 public:
  explicit GradientReducer(const NamedParameters& params, int64_t bucket_bytes = int64_t{4} << 20);
  GradReadyHook hook();
  void finish();
  // Seconds spent waiting in finish() for reductions (the communication that did not overlap).
  double last_wait_seconds() const { return last_wait_; }
  int bucket_count() const { return static_cast<int>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<VariableImpl*> params;
    std::vector<float> buffer;
    int ready = 0;
    void* request = nullptr;  // MPI_Request when started
  };
  void on_ready(VariableImpl* leaf);
  void start_ready_buckets();
  void start(Bucket& b);

  std::vector<Bucket> buckets_;
  std::vector<std::pair<VariableImpl*, int>> bucket_of_;  // sorted by pointer
  int next_ = 0;  // first bucket not started
  double last_wait_ = 0.0;
};

}  // namespace tfm::dist
