#include "core/kernels/matmul.h"

#include <cpuid.h>
#include <dnnl.hpp>
#include <omp.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/kernels/convert.h"
#include "core/kernels/elementwise.h"
#include "core/tensor.h"

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

// Operand types: fp32 throughout, or bf16 A and B with fp32 accumulation into an
// fp32 or bf16 C.
enum class Types : uint8_t { F32, Bf16ToF32, Bf16ToBf16 };

struct PrimKey {
  int64_t batch, M, N, K, lda, ldb, ldc, sa, sb, sc;
  bool ta, tb;
  float alpha, beta;
  Types types = Types::F32;
  bool operator==(const PrimKey&) const = default;
};

struct PrimKeyHash {
  size_t operator()(const PrimKey& k) const {
    size_t h = 1469598103934665603ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    for (int64_t v : {k.batch, k.M, k.N, k.K, k.lda, k.ldb, k.ldc, k.sa, k.sb, k.sc}) mix(static_cast<uint64_t>(v));
    mix(k.ta | (k.tb << 1) | (static_cast<uint64_t>(k.types) << 2));
    uint32_t a, b;
    std::memcpy(&a, &k.alpha, 4);
    std::memcpy(&b, &k.beta, 4);
    mix(a);
    mix(b);
    return h;
  }
};

// A primitive and its memory objects. The memory objects hold the data pointers
// of one call, so concurrent calls need their own: slot 0 serves calls from outside
// a parallel region (under a lock), slot 1 + t thread t of a parallel region (each
// thread its own stream too), made on first use.
// Each slot also owns its scratchpad: oneDNN's own (scratchpad_mode::library) is one
// global buffer shared by all primitives unless oneDNN was built for concurrent
// execution, so two threads running brgemm kernels at once overwrote each other's
// packed operands.
struct Slot {
  dnnl::stream stream;
  dnnl::memory a, b, c, scratch;
};

struct CachedPrim {
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, c_md, scratch_md;
  std::vector<std::unique_ptr<Slot>> slots;
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
  const dt in_t = k.types == Types::F32 ? dt::f32 : dt::bf16;
  const dt out_t = k.types == Types::Bf16ToBf16 ? dt::bf16 : dt::f32;
  if (k.batch == 1 && k.types != Types::F32) {  // 2-D: oneDNN's brgemm matmul takes these, not 3-D ones
    a_dims.erase(a_dims.begin());
    b_dims.erase(b_dims.begin());
    c_dims.erase(c_dims.begin());
    a_strides.erase(a_strides.begin());
    b_strides.erase(b_strides.begin());
    c_strides.erase(c_strides.begin());
  }
  dnnl::memory::desc a_md(a_dims, in_t, a_strides), b_md(b_dims, in_t, b_strides), c_md(c_dims, out_t, c_strides);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (k.alpha != 1.0f) attr.set_output_scales(0, {k.alpha});
  if (k.beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(k.beta);
    attr.set_post_ops(po);
  }
  auto& ctx = dnnl_ctx();
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), attr, ctx.engine);
  } catch (const dnnl::error& e) {
    TFM_FAIL("gemm: oneDNN has no ", k.types == Types::F32 ? "fp32" : "bf16", " matmul for M=", k.M, " N=", k.N,
             " K=", k.K, " on this CPU (", e.what(), ")");
  }
  auto* cp = new CachedPrim{dnnl::matmul(pd), a_md, b_md, c_md, pd.scratchpad_desc(), {}};
  cp->slots.resize(1 + static_cast<size_t>(omp_get_max_threads()));
  prim_cache.emplace(k, cp);
  n_created++;
  return cp;
}

Slot& slot_of(CachedPrim* p, size_t i) {
  if (!p->slots[i]) {
    std::lock_guard<std::mutex> lock(cache_mu);
    auto& ctx = dnnl_ctx();
    p->slots[i] = std::make_unique<Slot>(Slot{i == 0 ? ctx.stream : dnnl::stream(ctx.engine),
                                              dnnl::memory(p->a_md, ctx.engine, DNNL_MEMORY_NONE),
                                              dnnl::memory(p->b_md, ctx.engine, DNNL_MEMORY_NONE),
                                              dnnl::memory(p->c_md, ctx.engine, DNNL_MEMORY_NONE),
                                              dnnl::memory(p->scratch_md, ctx.engine)});
  }
  return *p->slots[i];
}

void execute(Slot& s, const dnnl::matmul& prim, const void* A, const void* B, void* C) {
  s.a.set_data_handle(const_cast<void*>(A));
  s.b.set_data_handle(const_cast<void*>(B));
  s.c.set_data_handle(C);
  prim.execute(s.stream,
               {{DNNL_ARG_SRC, s.a}, {DNNL_ARG_WEIGHTS, s.b}, {DNNL_ARG_DST, s.c}, {DNNL_ARG_SCRATCHPAD, s.scratch}});
}

void run_primitive(const PrimKey& k, const void* A, const void* B, void* C) {
  CachedPrim* p = get_prim(k);
  const size_t t = omp_in_parallel() ? 1 + static_cast<size_t>(omp_get_thread_num()) : 0;
  if (t != 0 && t < p->slots.size()) {
    execute(slot_of(p, t), p->prim, A, B, C);
    return;
  }
  static std::mutex run_mu;
  std::lock_guard<std::mutex> lock(run_mu);
  execute(slot_of(p, 0), p->prim, A, B, C);
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

namespace {
void fill_bias_rows(float* out, const float* bias, int64_t rows, int64_t n_out) {
#pragma omp parallel for schedule(static) if (rows * n_out > (1 << 15))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_out; ++j) out[r * n_out + j] = bias[j];
}
}  // namespace

void linear_forward(float* out, const float* x, const float* weight, const float* bias, int64_t rows, int64_t n_in,
                    int64_t n_out) {
  if (bias != nullptr) fill_bias_rows(out, bias, rows, n_out);
  gemm(false, true, rows, n_out, n_in, 1.0f, x, n_in, weight, n_in, bias != nullptr ? 1.0f : 0.0f, out, n_out);
}

void linear_backward(float* dx, float* dweight, float* dbias, const float* dout, const float* x, const float* weight,
                     int64_t rows, int64_t n_in, int64_t n_out) {
  if (dx != nullptr) gemm(false, false, rows, n_in, n_out, 1.0f, dout, n_out, weight, n_in, 1.0f, dx, n_in);
  if (dweight != nullptr) gemm(true, false, n_out, n_in, rows, 1.0f, dout, n_out, x, n_in, 1.0f, dweight, n_in);
  if (dbias != nullptr) sum_rows_accumulate(dbias, dout, rows, n_out);
}

void linear_forward_bf16(float* out, const bf16_t* x, const bf16_t* weight, const float* bias, int64_t rows,
                         int64_t n_in, int64_t n_out) {
  if (bias != nullptr) fill_bias_rows(out, bias, rows, n_out);
  gemm_bf16(false, true, rows, n_out, n_in, 1.0f, x, n_in, weight, n_in, bias != nullptr ? 1.0f : 0.0f, out, n_out);
}

void linear_backward_bf16(float* dx, float* dweight, float* dbias, const float* dout, const bf16_t* x,
                          const bf16_t* weight, int64_t rows, int64_t n_in, int64_t n_out) {
  if (dx != nullptr || dweight != nullptr) {
    Tensor g = Tensor::empty({rows, n_out}, DType::BF16);
    bf16_t* gb = static_cast<bf16_t*>(g.raw_data());
    f32_to_bf16(dout, gb, rows * n_out);
    if (dx != nullptr) gemm_bf16(false, false, rows, n_in, n_out, 1.0f, gb, n_out, weight, n_in, 1.0f, dx, n_in);
    if (dweight != nullptr) gemm_bf16(true, false, n_out, n_in, rows, 1.0f, gb, n_out, x, n_in, 1.0f, dweight, n_in);
  }
  if (dbias != nullptr) sum_rows_accumulate(dbias, dout, rows, n_out);
}

bool cpu_has_avx512_bf16() {
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__builtin_cpu_supports("avx512f") || __get_cpuid_max(0, nullptr) < 7) return false;
    __cpuid_count(7, 1, a, b, c, d);
    return ((a >> 5) & 1u) != 0;  // CPUID.(EAX=7,ECX=1):EAX[5] = AVX512_BF16
  }();
  return has;
}

namespace {
template <typename CT>
void gemm_bf16_impl(const char* op, int64_t batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                    const bf16_t* A, int64_t lda, int64_t sa, const bf16_t* B, int64_t ldb, int64_t sb, float beta,
                    CT* C, int64_t ldc, int64_t sc) {
  check_dims(op, ta, tb, M, N, K, lda, ldb, ldc);
  if (batch == 0 || M == 0 || N == 0) return;
  constexpr Types types = std::is_same_v<CT, float> ? Types::Bf16ToF32 : Types::Bf16ToBf16;
  if (K == 0) {
    for (int64_t i = 0; i < batch; ++i) {
      if constexpr (types == Types::Bf16ToF32) {
        scale_c(M, N, beta, C + i * sc, ldc);
      } else {
        for (int64_t r = 0; r < M; ++r)
          for (int64_t j = 0; j < N; ++j) {
            bf16_t& c = C[i * sc + r * ldc + j];
            c = to_bf16(beta == 0.0f ? 0.0f : beta * from_bf16(c));
          }
      }
    }
    return;
  }
  if (batch == 1) {  // strides of a single matrix only need to be consistent
    sa = M * lda + K * lda;
    sb = K * ldb + N * ldb;
    sc = M * ldc;
  }
  run_primitive({batch, M, N, K, lda, ldb, ldc, sa, sb, sc, ta, tb, alpha, beta, types}, A, B, C);
}
}  // namespace

void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const bf16_t* A, int64_t lda,
               const bf16_t* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_bf16_impl("gemm_bf16", 1, ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0);
}

void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const bf16_t* A, int64_t lda,
               const bf16_t* B, int64_t ldb, float beta, bf16_t* C, int64_t ldc) {
  gemm_bf16_impl("gemm_bf16", 1, ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0);
}

void gemm_batched_bf16(int64_t batch, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const bf16_t* A, int64_t lda, int64_t sa, const bf16_t* B, int64_t ldb, int64_t sb,
                       float beta, float* C, int64_t ldc, int64_t sc) {
  gemm_bf16_impl("gemm_batched_bf16", batch, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc);
}

}  // namespace tfm
