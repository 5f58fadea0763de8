// GEMM benchmarks: 1024³ and every GEMM of one training step of a GPT with
// d_model 384, n_head 6, seq_len 256, batch 8, d_ff 1536, vocab 65 (rows =
// batch·seq_len = 2048). Each shape runs four ways:
//   sgemm_ref  raw dnnl_sgemm, oneDNN's own fastest path (the reference);
//   auto       tfm::gemm / gemm_batched with GemmBackend::Auto (what tfm uses);
//   sgemm      GemmBackend::Sgemm;
//   primitive  GemmBackend::Primitive (cached oneDNN matmul primitive);
//   bf16       gemm_bf16 / gemm_batched_bf16: the same shape with A and B in bf16,
//              accumulated in fp32 into an fp32 C (mixed-precision training).
// benchmarks/matmul_ratio.py runs these with interleaved repetitions and
// prints auto/sgemm_ref per shape.
#include <dnnl.h>

#include <string>
#include <vector>

#include "bench_util.h"
#include "core/kernels/matmul.h"

namespace tfm::bench {
namespace {

// C = alpha·op(A)·op(B) + beta·C, repeated over `outer` groups of `batch`
// matrices. Group g, matrix i starts at A + g·outer_stride_a + i·stride_a.
// Per-head attention in a [batch, seq_len, d_model] layout is 8 groups (the
// sequences) of 6 heads, head h at column h·64, hence lda = 384.
struct GemmCase {
  const char* name;
  bool ta, tb;
  int64_t M, N, K;
  int64_t lda, ldb, ldc;
  float beta;  // 1 where the model accumulates (bias already in C, gradients)
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_c = 0;
  int64_t outer = 1, outer_stride_a = 0, outer_stride_b = 0, outer_stride_c = 0;
};

constexpr int64_t kRows = 8 * 256, kModel = 384, kFF = 1536, kVocab = 65;
constexpr int64_t kSeq = 256, kHeadDim = 64, kHeads = 6, kBatch = 8;

// Linear layer x[rows, in]·W[out, in]ᵀ: forward NT (rows, out, in);
// dX = dY·W NN (rows, in, out); dW = dYᵀ·X TN (out, in, rows).
constexpr GemmCase linear_case(const char* name, int which, int64_t n_in, int64_t n_out) {
  if (which == 0) return {name, false, true, kRows, n_out, n_in, n_in, n_in, n_out, 1.0f};
  if (which == 1) return {name, false, false, kRows, n_in, n_out, n_out, n_in, n_in, 1.0f};
  return {name, true, false, n_out, n_in, kRows, n_out, n_in, n_in, 1.0f};
}

// Attention, per head: S = Q·Kᵀ (NT 256×256×64), O = P·V (NN 256×64×256),
// dV = Pᵀ·dO (TN 256×64×256). dP = dO·Vᵀ, dQ = dS·K and dK = dSᵀ·Q have the
// same shapes as these three. Q, K, V, O in [batch, seq_len, d_model] (head h at
// column h·64, ld 384, 6 heads per call, 8 calls); S, P in [batch, head, seq, seq].
constexpr int64_t kTT = kSeq * kSeq, kTC = kSeq * kModel;
constexpr GemmCase kAttnScores{"attn_scores", false, true, kSeq, kSeq, kHeadDim, kModel, kModel, kSeq, 0.0f,
                               kHeads, kHeadDim, kHeadDim, kTT, kBatch, kTC, kTC, kHeads * kTT};
constexpr GemmCase kAttnContext{"attn_context", false, false, kSeq, kHeadDim, kSeq, kSeq, kModel, kModel, 0.0f,
                                kHeads, kTT, kHeadDim, kHeadDim, kBatch, kHeads * kTT, kTC, kTC};
constexpr GemmCase kAttnDV{"attn_dv", true, false, kSeq, kHeadDim, kSeq, kSeq, kModel, kModel, 1.0f,
                           kHeads, kTT, kHeadDim, kHeadDim, kBatch, kHeads * kTT, kTC, kTC};
// The same three with heads contiguous ([batch·head, seq, 64], ld 64, one call of
// 48), the layout autograd's matmul op produces.
constexpr int64_t kTD = kSeq * kHeadDim, kBH = kBatch * kHeads;
constexpr GemmCase kAttnScoresBH{"attn_scores_bh", false, true, kSeq, kSeq, kHeadDim, kHeadDim, kHeadDim, kSeq,
                                 0.0f, kBH, kTD, kTD, kTT};
constexpr GemmCase kAttnContextBH{"attn_context_bh", false, false, kSeq, kHeadDim, kSeq, kSeq, kHeadDim, kHeadDim,
                                  0.0f, kBH, kTT, kTD, kTD};
constexpr GemmCase kAttnDVBH{"attn_dv_bh", true, false, kSeq, kHeadDim, kSeq, kSeq, kHeadDim, kHeadDim, 1.0f,
                             kBH, kTT, kTD, kTD};

const std::vector<GemmCase>& cases() {
  static const std::vector<GemmCase> all{
      {"square_1024", false, false, 1024, 1024, 1024, 1024, 1024, 1024, 0.0f},
      linear_case("qkvo_fwd", 0, kModel, kModel),
      linear_case("qkvo_dx", 1, kModel, kModel),
      linear_case("qkvo_dw", 2, kModel, kModel),
      linear_case("fc1_fwd", 0, kModel, kFF),
      linear_case("fc1_dx", 1, kModel, kFF),
      linear_case("fc1_dw", 2, kModel, kFF),
      linear_case("fc2_fwd", 0, kFF, kModel),
      linear_case("fc2_dx", 1, kFF, kModel),
      linear_case("fc2_dw", 2, kFF, kModel),
      linear_case("head_fwd", 0, kModel, kVocab),
      linear_case("head_dx", 1, kModel, kVocab),
      linear_case("head_dw", 2, kModel, kVocab),
      // Small and skinny: one short sequence (64 tokens) and one decoding step (1 token).
      {"small_fwd", false, true, 64, kModel, kModel, kModel, kModel, kModel, 1.0f},
      {"decode_fc1", false, true, 1, kFF, kModel, kModel, kModel, kFF, 1.0f},
      kAttnScores,
      kAttnContext,
      kAttnDV,
      kAttnScoresBH,
      kAttnContextBH,
      kAttnDVBH,
      // Contiguous NN batches far from the attention shapes: does the batched rule carry over?
      {"bmm_nn_48x64", false, false, 64, 64, 64, 64, 64, 64, 0.0f, 48, 64 * 64, 64 * 64, 64 * 64},
      {"bmm_nn_2x512", false, false, 512, 512, 512, 512, 512, 512, 0.0f, 2, 512 * 512, 512 * 512, 512 * 512},
  };
  return all;
}

// Elements a buffer needs so that the last matrix's last element is inside it.
int64_t extent(int64_t rows, int64_t cols, int64_t ld, int64_t batch, int64_t stride, int64_t outer,
               int64_t outer_stride) {
  return (outer - 1) * outer_stride + (batch - 1) * stride + (rows - 1) * ld + cols;
}

enum class Impl { SgemmRef, Auto, Sgemm, Primitive, Bf16 };

void run_case(benchmark::State& state, const GemmCase& c, Impl impl) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  std::vector<float> A = random_floats(extent(a_rows, a_cols, c.lda, c.batch, c.stride_a, c.outer, c.outer_stride_a),
                                       -1.0f, 1.0f, 1);
  std::vector<float> B = random_floats(extent(b_rows, b_cols, c.ldb, c.batch, c.stride_b, c.outer, c.outer_stride_b),
                                       -1.0f, 1.0f, 2);
  // beta = 1 accumulates on every iteration; small values keep it finite.
  std::vector<float> C = random_floats(extent(c.M, c.N, c.ldc, c.batch, c.stride_c, c.outer, c.outer_stride_c),
                                       -1e-3f, 1e-3f, 3);
  std::vector<bf16_t> A16(A.size()), B16(B.size());
  f32_to_bf16(A.data(), A16.data(), static_cast<int64_t>(A.size()));
  f32_to_bf16(B.data(), B16.data(), static_cast<int64_t>(B.size()));

  const GemmBackend backend = impl == Impl::Sgemm       ? GemmBackend::Sgemm
                              : impl == Impl::Primitive ? GemmBackend::Primitive
                                                        : GemmBackend::Auto;
  auto call = [&] {
    for (int64_t g = 0; g < c.outer; ++g) {
      const float* a = A.data() + g * c.outer_stride_a;
      const float* b = B.data() + g * c.outer_stride_b;
      float* cc = C.data() + g * c.outer_stride_c;
      if (impl == Impl::Bf16) {
        const bf16_t* a16 = A16.data() + g * c.outer_stride_a;
        const bf16_t* b16 = B16.data() + g * c.outer_stride_b;
        if (c.batch == 1)
          gemm_bf16(c.ta, c.tb, c.M, c.N, c.K, 1.0f, a16, c.lda, b16, c.ldb, c.beta, cc, c.ldc);
        else
          gemm_batched_bf16(c.batch, c.ta, c.tb, c.M, c.N, c.K, 1.0f, a16, c.lda, c.stride_a, b16, c.ldb,
                            c.stride_b, c.beta, cc, c.ldc, c.stride_c);
      } else if (impl == Impl::SgemmRef) {
        for (int64_t i = 0; i < c.batch; ++i)
          dnnl_sgemm(c.ta ? 'T' : 'N', c.tb ? 'T' : 'N', c.M, c.N, c.K, 1.0f, a + i * c.stride_a, c.lda,
                     b + i * c.stride_b, c.ldb, c.beta, cc + i * c.stride_c, c.ldc);
      } else if (c.batch == 1) {
        gemm(c.ta, c.tb, c.M, c.N, c.K, 1.0f, a, c.lda, b, c.ldb, c.beta, cc, c.ldc, backend);
      } else {
        gemm_batched(c.batch, c.ta, c.tb, c.M, c.N, c.K, 1.0f, a, c.lda, c.stride_a, b, c.ldb, c.stride_b, c.beta,
                     cc, c.ldc, c.stride_c, backend);
      }
    }
  };
  call();  // warm-up: creates and caches any primitive outside the timed loop
  const int64_t created = gemm_primitives_created();
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  if (gemm_primitives_created() != created) state.SkipWithError("matmul primitive created in steady state");
  report_gflops(state, 2.0 * static_cast<double>(c.M * c.N * c.K * c.batch * c.outer));
  state.SetLabel(std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K) + " " +
                 (c.ta ? "T" : "N") + (c.tb ? "T" : "N") +
                 (c.batch * c.outer > 1 ? " x" + std::to_string(c.batch * c.outer) : ""));
}

// The loop of core/kernels/attention.cpp: one (sequence, head, 64-query block)
// per iteration of an OpenMP loop, each calling gemm on its own (so oneDNN runs
// single-threaded inside). Non-causal, T = 256: every block sees all 256 keys.
// Forward: S = scale·Q Kᵀ (64×256×64 NT), O = P V (64×64×256 NN). Backward:
// dV += Pᵀ dO (256×64×64 TN), dP = dO Vᵀ (NT), dQ += scale·dS K (NN),
// dK += scale·dSᵀ Q (TN).
void run_attention_blocks(benchmark::State& state, bool backward, Impl impl) {
  constexpr int64_t kBlock = 64, kBlocks = kSeq / kBlock, W = kSeq;
  const int64_t act = kBatch * kSeq * kModel, probs = kBatch * kHeads * kSeq * kSeq;
  std::vector<float> Q = random_floats(act, -1.0f, 1.0f, 1), K = random_floats(act, -1.0f, 1.0f, 2),
                     V = random_floats(act, -1.0f, 1.0f, 3), O = random_floats(act, -1e-3f, 1e-3f, 4),
                     P = random_floats(probs, 0.0f, 1.0f / kSeq, 5), dS = random_floats(probs, -1e-3f, 1e-3f, 6);
  const GemmBackend backend = impl == Impl::Sgemm       ? GemmBackend::Sgemm
                              : impl == Impl::Primitive ? GemmBackend::Primitive
                                                        : GemmBackend::Auto;
  const float scale = 0.125f;  // 1/√64
  auto mm = [&](bool ta, bool tb, int64_t M, int64_t N, int64_t Kd, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
    if (impl == Impl::SgemmRef)
      dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, Kd, alpha, a, lda, b, ldb, beta, c, ldc);
    else
      gemm(ta, tb, M, N, Kd, alpha, a, lda, b, ldb, beta, c, ldc, backend);
  };
  auto block = [&](int64_t bh, int64_t blk) {
    const int64_t b = bh / kHeads, h = bh % kHeads, q0 = blk * kBlock;
    const int64_t q_at = (b * kSeq + q0) * kModel + h * kHeadDim, kv_at = b * kSeq * kModel + h * kHeadDim;
    float* Pb = P.data() + (bh * kBlocks + blk) * kBlock * W;
    float* dSb = dS.data() + (bh * kBlocks + blk) * kBlock * W;
    if (!backward) {
      mm(false, true, kBlock, kSeq, kHeadDim, scale, Q.data() + q_at, kModel, K.data() + kv_at, kModel, 0.0f, dSb,
         W);  // S goes to a scratch block: P stays a valid distribution
      mm(false, false, kBlock, kHeadDim, kSeq, 1.0f, Pb, W, V.data() + kv_at, kModel, 0.0f, O.data() + q_at, kModel);
    } else {
      // O, V, Q, K stand in for dO, dV, dQ, dK: same shapes and strides.
      mm(true, false, kSeq, kHeadDim, kBlock, 1.0f, Pb, W, O.data() + q_at, kModel, 1.0f, V.data() + kv_at, kModel);
      mm(false, true, kBlock, kSeq, kHeadDim, 1.0f, O.data() + q_at, kModel, V.data() + kv_at, kModel, 0.0f, dSb, W);
      mm(false, false, kBlock, kHeadDim, kSeq, scale, dSb, W, K.data() + kv_at, kModel, 1.0f, Q.data() + q_at,
         kModel);
      mm(true, false, kSeq, kHeadDim, kBlock, scale, dSb, W, Q.data() + q_at, kModel, 1.0f, K.data() + kv_at, kModel);
    }
  };
  // As in attention.cpp: the forward spreads (head, block) pairs over the threads;
  // the backward gives each thread whole heads, since a head's blocks all
  // accumulate into the same rows of dK and dV.
  auto call = [&] {
    if (!backward) {
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
      for (int64_t bh = 0; bh < kBatch * kHeads; ++bh)
        for (int64_t blk = 0; blk < kBlocks; ++blk) block(bh, blk);
    } else {
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t bh = 0; bh < kBatch * kHeads; ++bh)
        for (int64_t blk = 0; blk < kBlocks; ++blk) block(bh, blk);
    }
  };
  call();
  const int64_t created = gemm_primitives_created();
  for (auto _ : state) {
    call();
    benchmark::ClobberMemory();
  }
  if (gemm_primitives_created() != created) state.SkipWithError("matmul primitive created in steady state");
  const double per_block = 2.0 * kBlock * kSeq * kHeadDim;  // FLOPs of each GEMM here: all are 64·256·64
  report_gflops(state, (backward ? 4.0 : 2.0) * per_block * kBatch * kHeads * kBlocks);
  state.SetLabel(backward ? "4 GEMMs x192 blocks in omp parallel" : "2 GEMMs x192 blocks in omp parallel");
}

// Names: matmul/<shape>/<impl>; matmul_ratio.py relies on this form.
const bool registered = [] {
  const std::pair<Impl, const char*> impls[] = {{Impl::SgemmRef, "sgemm_ref"}, {Impl::Auto, "auto"},
                                                {Impl::Sgemm, "sgemm"},         {Impl::Primitive, "primitive"},
                                                {Impl::Bf16, "bf16"}};
  for (const GemmCase& c : cases())
    for (const auto& [impl, impl_name] : impls)
      benchmark::RegisterBenchmark((std::string("matmul/") + c.name + "/" + impl_name).c_str(),
                                   [&c, impl = impl](benchmark::State& s) { run_case(s, c, impl); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  for (bool backward : {false, true})
    for (const auto& [impl, impl_name] : impls)
      if (impl != Impl::Bf16)
      benchmark::RegisterBenchmark(
          (std::string("matmul/") + (backward ? "attn_blocks_bwd/" : "attn_blocks_fwd/") + impl_name).c_str(),
          [backward, impl = impl](benchmark::State& s) { run_attention_blocks(s, backward, impl); })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
}  // namespace tfm::bench
