#include "core/kernels/matmul.h"

#include <dnnl.hpp>
#include <omp.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "core/error.h"
#include "core/kernels/elementwise.h"

namespace tfm {
namespace {

struct Dnnl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

Dnnl& dnnl_ctx() {
  static Dnnl* d = new Dnnl();
  return *d;
}

struct PrimKey {
  int64_t batch, M, N, K, lda, ldb, ldc, sa, sb, sc;
  bool ta, tb;
  float alpha, beta;
  bool operator==(const PrimKey&) const = default;
};

struct PrimKeyHash {
  size_t operator()(const PrimKey& k) const {
    size_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    for (int64_t v : {k.batch, k.M, k.N, k.K, k.lda, k.ldb, k.ldc, k.sa, k.sb, k.sc}) mix(static_cast<uint64_t>(v));
    mix(k.ta | (k.tb << 1));
    uint32_t a, b;
    std::memcpy(&a, &k.alpha, 4);
    std::memcpy(&b, &k.beta, 4);
    mix(a);
    mix(b);
    return h;
  }
};

struct CachedPrim {
  dnnl::matmul prim;
  dnnl::memory a, b, c;
};

std::mutex cache_mu;
std::unordered_map<PrimKey, CachedPrim*, PrimKeyHash> prim_cache;
std::atomic<int64_t> n_created{0};

CachedPrim* get_prim(const PrimKey& k) {
  std::lock_guard<std::mutex> lock(cache_mu);
  auto it = prim_cache.find(k);
  if (it != prim_cache.end()) return it->second;
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  // Strides express transposes and leading dimensions without copies.
  dims a_dims{k.batch, k.M, k.K}, b_dims{k.batch, k.K, k.N}, c_dims{k.batch, k.M, k.N};
  dims a_strides = k.ta ? dims{k.sa, 1, k.lda} : dims{k.sa, k.lda, 1};
  dims b_strides = k.tb ? dims{k.sb, 1, k.ldb} : dims{k.sb, k.ldb, 1};
  dims c_strides{k.sc, k.ldc, 1};
  dnnl::memory::desc a_md(a_dims, dt::f32, a_strides), b_md(b_dims, dt::f32, b_strides),
      c_md(c_dims, dt::f32, c_strides);
  dnnl::primitive_attr attr;
  if (k.alpha != 1.0f) attr.set_output_scales(0, {k.alpha});
  if (k.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(k.beta);
    attr.set_post_ops(po);
  }
  auto& ctx = dnnl_ctx();
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, c_md), attr, ctx.engine);
  auto* cp = new CachedPrim{dnnl::matmul(pd), dnnl::memory(a_md, ctx.engine, DNNL_MEMORY_NONE),
                            dnnl::memory(b_md, ctx.engine, DNNL_MEMORY_NONE),
                            dnnl::memory(c_md, ctx.engine, DNNL_MEMORY_NONE)};
  prim_cache.emplace(k, cp);
  n_created++;
  return cp;
}

void run_primitive(const PrimKey& k, const float* A, const float* B, float* C) {
  CachedPrim* p = get_prim(k);
  // The cached memory objects are shared: one GEMM at a time per shape.
  static std::mutex run_mu;
  std::lock_guard<std::mutex> lock(run_mu);
  p->a.set_data_handle(const_cast<float*>(A));
  p->b.set_data_handle(const_cast<float*>(B));
  p->c.set_data_handle(C);
  p->prim.execute(dnnl_ctx().stream, {{DNNL_ARG_SRC, p->a}, {DNNL_ARG_WEIGHTS, p->b}, {DNNL_ARG_DST, p->c}});
}

void run_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  TFM_CHECK(st == dnnl_success, "gemm: dnnl_sgemm failed with status ", static_cast<int>(st), " for M=", M,
            " N=", N, " K=", K);
}

void check_dims(const char* op, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb,
                int64_t ldc) {
  TFM_CHECK(M >= 0 && N >= 0 && K >= 0, op, ": negative size M=", M, " N=", N, " K=", K);
  TFM_CHECK(lda >= (ta ? M : K) && ldb >= (tb ? K : N) && ldc >= N, op, ": leading dimension too small: lda=",
            lda, " ldb=", ldb, " ldc=", ldc, " for M=", M, " N=", N, " K=", K);
}

// C = beta·C for an empty inner dimension (oneDNN leaves C untouched when K = 0).
void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

// GemmBackend::Auto, chosen from bench_kernels measurements (2 threads, AVX-512;
// numbers in docs/PERFORMANCE.md, "Kernels (issue 3)"). gemm always uses sgemm:
// for single GEMMs the matmul primitive dispatches to the same jit sgemm kernel and
// only adds a cache lookup and a lock (a tie on large shapes, 10-20% slower on
// 64-row and 1-row inputs), and inside a parallel region (attention's per-block
// GEMMs) it also serialises the threads (~2.7x slower). gemm_batched uses the
// primitive for NN batches of small (M·N·K ≤ 2^24), densely packed matrices: oneDNN
// then runs its batched brgemm kernel, 7-27% faster than one sgemm per matrix. With
// a transposed operand brgemm ties (Bᵀ) or loses (Aᵀ, -18%), on 2 × 512³ it loses
// 1-7%, and strided layouts (heads as column slices) fall back to jit sgemm anyway.
GemmBackend auto_backend_batched(int64_t batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t lda,
                                 int64_t sa, int64_t ldb, int64_t sb, int64_t ldc, int64_t sc) {
  if (omp_in_parallel() || batch < 2 || ta || tb || M * N * K > (int64_t{1} << 24)) return GemmBackend::Sgemm;
  const bool dense = lda == K && sa == M * K && ldb == N && sb == K * N && ldc == N && sc == M * N;
  return dense ? GemmBackend::Primitive : GemmBackend::Sgemm;
}

}  // namespace

int64_t gemm_primitives_created() { return n_created.load(); }

void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, GemmBackend backend) {
  check_dims("gemm", ta, tb, M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (backend == GemmBackend::Auto) backend = GemmBackend::Sgemm;
  if (backend == GemmBackend::Primitive) {
    run_primitive({1, M, N, K, lda, ldb, ldc, M * lda + K * lda, K * ldb + N * ldb, M * ldc, ta, tb, alpha, beta},
                  A, B, C);
  } else {
    run_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

void gemm_batched(int64_t batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                  int64_t lda, int64_t sa, const float* B, int64_t ldb, int64_t sb, float beta, float* C,
                  int64_t ldc, int64_t sc, GemmBackend backend) {
  check_dims("gemm_batched", ta, tb, M, N, K, lda, ldb, ldc);
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < batch; ++i) scale_c(M, N, beta, C + i * sc, ldc);
    return;
  }
  if (backend == GemmBackend::Auto) backend = auto_backend_batched(batch, ta, tb, M, N, K, lda, sa, ldb, sb, ldc, sc);
  if (backend == GemmBackend::Primitive) {
    run_primitive({batch, M, N, K, lda, ldb, ldc, sa, sb, sc, ta, tb, alpha, beta}, A, B, C);
    return;
  }
  // Small matrices: one single-threaded sgemm per matrix, matrices spread over threads
  // (oneDNN runs sequentially inside a parallel region).
#pragma omp parallel for schedule(static) if (batch > 1)
  for (int64_t i = 0; i < batch; ++i) run_sgemm(ta, tb, M, N, K, alpha, A + i * sa, lda, B + i * sb, ldb, beta, C + i * sc, ldc);
}

void linear_forward(float* out, const float* x, const float* weight, const float* bias, int64_t rows, int64_t n_in,
                    int64_t n_out) {
  if (bias != nullptr) {
#pragma omp parallel for schedule(static) if (rows * n_out > (1 << 15))
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n_out; ++j) out[r * n_out + j] = bias[j];
  }
  gemm(false, true, rows, n_out, n_in, 1.0f, x, n_in, weight, n_in, bias != nullptr ? 1.0f : 0.0f, out, n_out);
}

void linear_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x, const float* weight,
                     int64_t rows, int64_t n_in, int64_t n_out) {
  if (dx != nullptr) gemm(false, false, rows, n_in, n_out, 1.0f, dout, n_out, weight, n_in, 1.0f, dx, n_in);
  if (dweight != nullptr) gemm(true, false, n_out, n_in, rows, 1.0f, dout, n_out, x, n_in, 1.0f, dweight, n_in);
  if (dbias != nullptr) sum_rows_accumulate(dbias, dout, rows, n_out);
}

}  // namespace tfm
