#include "tools/train/distributed.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

#ifdef TFM_WITH_MPI
#include <mpi.h>
#endif

namespace tfm::dist {
namespace {

bool g_active = false;  // MPI initialised by init()
int g_rank = 0, g_size = 1, g_local_size = 1;

// mpirun (OpenMPI) and other launchers leave these in the environment of the ranks.
bool launched_by_mpirun() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

#ifdef TFM_WITH_MPI
static_assert(sizeof(MPI_Request) <= sizeof(void*), "MPI_Request is stored in a void*");
MPI_Request as_request(void* p) {
  MPI_Request r;
  std::memcpy(&r, &p, sizeof r);
  return r;
}
void* from_request(MPI_Request r) {
  void* p = nullptr;
  std::memcpy(&p, &r, sizeof r);
  return p;
}
void check_mpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw RuntimeFailure(std::string("MPI: ") + what + " failed: " + std::string(msg, len));
  }
}
#endif

}  // namespace

bool compiled_with_mpi() {
#ifdef TFM_WITH_MPI
  return true;
#else
  return false;
#endif
}

void init(int* argc, char*** argv) {
#ifdef TFM_WITH_MPI
  if (g_active || !launched_by_mpirun()) return;
  int provided = 0;
  // Only the main thread calls MPI; OpenMP threads compute.
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return;
  g_active = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  // Errors come back as codes (turned into exceptions), not MPI's default abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &g_local_size);
  MPI_Comm_free(&local);
#else
  (void)argc;
  (void)argv;
#endif
}

void finalize() {
#ifdef TFM_WITH_MPI
  if (g_active) MPI_Finalize();
  g_active = false;
#endif
}

void abort_job(int code) {
#ifdef TFM_WITH_MPI
  if (g_active && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

int rank() { return g_rank; }
int size() { return g_size; }
int local_size() { return g_local_size; }

void allreduce_sum(double* values, int count) {
#ifdef TFM_WITH_MPI
  if (g_size > 1) check_mpi(MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce");
#else
  (void)values;
  (void)count;
#endif
}

void allreduce_sum(float* values, int64_t count) {
#ifdef TFM_WITH_MPI
  constexpr int64_t kChunk = int64_t{1} << 30;  // MPI counts are int
  for (int64_t i = 0; g_size > 1 && i < count; i += kChunk)
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, values + i, static_cast<int>(std::min(kChunk, count - i)), MPI_FLOAT,
                            MPI_SUM, MPI_COMM_WORLD),
              "allreduce");
#else
  (void)values;
  (void)count;
#endif
}

void barrier() {
#ifdef TFM_WITH_MPI
  if (g_size > 1) check_mpi(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
}

GradientReducer::GradientReducer(const NamedParameters& params, int64_t bucket_bytes) {
  int64_t bucket_floats = 0;
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    Variable* p = it->second;
    if (!p->requires_grad()) continue;
    if (buckets_.empty() || bucket_floats * static_cast<int64_t>(sizeof(float)) >= bucket_bytes) {
      buckets_.emplace_back();
      bucket_floats = 0;
    }
    buckets_.back().params.push_back(p->impl());
    bucket_floats += p->numel();
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t n = 0;
    for (VariableImpl* v : buckets_[b].params) {
      bucket_of_.emplace_back(v, static_cast<int>(b));
      n += v->data.numel();
    }
    buckets_[b].buffer.resize(static_cast<size_t>(n));
  }
  std::sort(bucket_of_.begin(), bucket_of_.end());
}

GradReadyHook GradientReducer::hook() {
  return [this](VariableImpl* leaf) { on_ready(leaf); };
}

void GradientReducer::on_ready(VariableImpl* leaf) {
  if (g_size == 1) return;
  auto it = std::lower_bound(bucket_of_.begin(), bucket_of_.end(), std::make_pair(leaf, -1));
  if (it == bucket_of_.end() || it->first != leaf) return;  // not a trained parameter
  ++buckets_[it->second].ready;
  start_ready_buckets();
#ifdef TFM_WITH_MPI
  // OpenMPI progresses non-blocking collectives inside MPI calls: poke the started ones.
  for (int b = 0; b < next_; ++b)
    if (buckets_[b].request) {
      MPI_Request r = as_request(buckets_[b].request);
      int done = 0;
      MPI_Test(&r, &done, MPI_STATUS_IGNORE);
      buckets_[b].request = done ? nullptr : from_request(r);
    }
#endif
}

void GradientReducer::start_ready_buckets() {
  while (next_ < static_cast<int>(buckets_.size()) &&
         buckets_[next_].ready == static_cast<int>(buckets_[next_].params.size()))
    start(buckets_[next_++]);
}

void GradientReducer::start(Bucket& b) {
  float* dst = b.buffer.data();
  for (VariableImpl* v : b.params) {
    const int64_t n = v->data.numel();
    if (v->grad.defined()) std::memcpy(dst, v->grad.data(), n * sizeof(float));
    else std::memset(dst, 0, n * sizeof(float));
    dst += n;
  }
#ifdef TFM_WITH_MPI
  MPI_Request r;
  check_mpi(MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data(), static_cast<int>(b.buffer.size()), MPI_FLOAT, MPI_SUM,
                           MPI_COMM_WORLD, &r),
            "gradient allreduce");
  b.request = from_request(r);
#endif
}

void GradientReducer::finish() {
  if (g_size == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  // Parameters the graph did not reach (or a backward pass without the hook): their buckets start now.
  for (Bucket& b : buckets_) b.ready = static_cast<int>(b.params.size());
  start_ready_buckets();
  const float inv = 1.0f / static_cast<float>(g_size);
  for (Bucket& b : buckets_) {
#ifdef TFM_WITH_MPI
    if (b.request) {
      MPI_Request r = as_request(b.request);
      check_mpi(MPI_Wait(&r, MPI_STATUS_IGNORE), "gradient allreduce");
      b.request = nullptr;
    }
#endif
    const float* src = b.buffer.data();
    for (VariableImpl* v : b.params) {
      const int64_t n = v->data.numel();
      if (!v->grad.defined()) v->grad = Tensor::zeros(v->data.shape());
      float* g = v->grad.data();
      for (int64_t i = 0; i < n; ++i) g[i] = src[i] * inv;
      src += n;
    }
    b.ready = 0;
  }
  next_ = 0;
  last_wait_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace tfm::dist
