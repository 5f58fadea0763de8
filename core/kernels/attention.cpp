#include "core/kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/kernels/vecmath.h"
#include "core/kernels/matmul.h"
#include "core/precision.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace tfm {
namespace {

// Below this many multiply-adds (batch·n_head·q_len·width·head_dim) waking the
// OpenMP threads costs more than the work (one decoded token, tiny models), as
// the size thresholds of the other kernels.
constexpr int64_t kParallelMinWork = 1 << 14;

// Visible key range [lo, hi) of the query at position p.
inline void key_range(const AttentionDims& d, int64_t p, int64_t* lo, int64_t* hi) {
  int64_t l = 0, h = d.kv_len;
  if (d.causal) h = std::min(h, p + 1);
  if (d.window > 0) {
    l = std::max<int64_t>(0, p - d.window + 1);
    if (!d.causal) h = std::min(h, p + d.window);
  }
  // A window past the last key (more queries than keys) leaves an empty range
  // at kv_len, never beyond it: blocks read keys [key_begin, key_end).
  *lo = std::min(l, d.kv_len);
  *hi = std::max(*lo, h);
}

// Dropout of weights (bh, i, [k0, k0 + nk)): out = keep ? in·keep_scale : 0, the
// keep decision of weight (bh, i, j) drawn from word (dense index) of the stream.
inline void drop_row(float* out, const float* in, const Generator& gen, const AttentionDims& d, int64_t bh, int64_t i,
                     int64_t k0, int64_t nk, float keep_scale) {
  const uint64_t first = d.dropout_first_block * 4 + (static_cast<uint64_t>(bh) * d.q_len + i) * d.kv_len + k0;
  constexpr int64_t kChunk = 256;
  alignas(64) uint32_t r[kChunk];
  for (int64_t c0 = 0; c0 < nk; c0 += kChunk) {
    const int64_t m = std::min(kChunk, nk - c0);
    gen.words(first + static_cast<uint64_t>(c0), m, r);
    for (int64_t c = 0; c < m; ++c)
      out[c0 + c] = u32_to_unit_float(r[c]) >= d.dropout_p ? in[c0 + c] * keep_scale : 0.0f;
  }
}

// A GEMM operand of the blocks: fp32 rows with their stride, and under
// Precision::BF16 also a dense bf16 copy (row stride ldh), which the GEMMs then read.
struct View {
  const float* f;
  const bf16_t* h;
  int64_t ld;
};
struct Operand {
  const float* f = nullptr;
  int64_t ldf = 0;
  const bf16_t* h = nullptr;
  int64_t ldh = 0;
  View at(int64_t row, int64_t col) const {
    return h ? View{nullptr, h + row * ldh + col, ldh} : View{f + row * ldf + col, nullptr, ldf};
  }
};

void gemm_view(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, View a, View b, float beta, float* C,
               int64_t ldc) {
  if (a.h)
    gemm_bf16(ta, tb, M, N, K, alpha, a.h, a.ld, b.h, b.ld, beta, C, ldc);
  else
    gemm(ta, tb, M, N, K, alpha, a.f, a.ld, b.f, b.ld, beta, C, ldc);
}
void gemm_view(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, View a, View b, float beta, bf16_t* C,
               int64_t ldc) {
  TFM_CHECK(a.h && b.h, "attention: a bf16 output needs bf16 GEMMs (Precision::BF16)");
  gemm_bf16(ta, tb, M, N, K, alpha, a.h, a.ld, b.h, b.ld, beta, C, ldc);
}

// The operand over rows × cols of src (row stride ld); with bf16 GEMMs its bf16
// copy is made into `copy`, which must outlive the operand.
Operand make_operand(const float* src, int64_t ld, int64_t rows, int64_t cols, bool bf16, Tensor& copy) {
  Operand o{src, ld};
  if (!bf16) return o;
  copy = Tensor::empty({rows, cols}, DType::BF16);
  bf16_t* dst = static_cast<bf16_t*>(copy.raw_data());
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[r * cols + c] = to_bf16(src[r * ld + c]);
  o.h = dst;
  o.ldh = cols;
  return o;
}

// A block of weights (nq × nk of rows with stride W) as a GEMM operand: itself,
// or rounded to bf16 into the thread's bf16 scratch `h`.
View block_view(const float* src, int64_t nq, int64_t nk, int64_t W, bf16_t* h) {
  if (!h) return View{src, nullptr, W};
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t c = 0; c < nk; ++c) h[i * W + c] = to_bf16(src[i * W + c]);
  return View{nullptr, h, W};
}

// Scratch: per thread, three block_q × width buffers (dropped-out weights, the
// weight gradient, and the recomputed weights when P is not stored).
constexpr int64_t kScratchSlots = 3;
Tensor thread_scratch(const AttentionPlan& plan) {
  return Tensor::empty({omp_get_max_threads(), kScratchSlots, plan.block_q, std::max<int64_t>(plan.width, 1)});
}
// With bf16 GEMMs, one bf16 block_q × width buffer per thread (a block's weights or their gradient).
Tensor thread_scratch_bf16(const AttentionPlan& plan, bool bf16) {
  return bf16 ? Tensor::empty({omp_get_max_threads(), plan.block_q, std::max<int64_t>(plan.width, 1)}, DType::BF16)
              : Tensor();
}
bf16_t* thread_bf16(const Tensor& scratch, const AttentionPlan& plan) {
  if (!scratch.defined()) return nullptr;
  return static_cast<bf16_t*>(scratch.raw_data()) + omp_get_thread_num() * plan.block_q * std::max<int64_t>(plan.width, 1);
}

// Softmax weights of one query block, rows of width W (zero-padded past the
// block's nk keys and past its nq rows): Pb = softmax(scale·Qb Kbᵀ + mask).
void block_weights(float* Pb, View Qb, View Kb, const AttentionDims& d, const AttentionPlan& plan, int64_t b,
                   int64_t q0, int64_t nq, int64_t k0, int64_t nk, float scale) {
  const int64_t W = plan.width, BQ = plan.block_q;
  gemm_view(false, true, nq, nk, d.head_dim, scale, Qb, Kb, 0.0f, Pb, W);
  const int32_t* pad = d.key_padding ? d.key_padding + b * d.kv_len : nullptr;
  for (int64_t i = 0; i < nq; ++i) {
    float* row = Pb + i * W;
    int64_t lo, hi;
    key_range(d, d.q_offset + q0 + i, &lo, &hi);
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < nk; ++c) {
      const int64_t j = k0 + c;
      const bool visible = j >= lo && j < hi && !(pad && pad[j]);
      if (!visible) row[c] = -std::numeric_limits<float>::infinity();
      mx = std::max(mx, row[c]);
    }
    float sum = 0.0f;
    if (mx == -std::numeric_limits<float>::infinity()) {
      std::fill(row, row + nk, 0.0f);  // nothing visible: zero weights, zero output
    } else {
#pragma omp simd reduction(+ : sum)
      for (int64_t c = 0; c < nk; ++c) {
        row[c] = vec::exp(row[c] - mx);
        sum += row[c];
      }
      const float inv = 1.0f / sum;
#pragma omp simd
      for (int64_t c = 0; c < nk; ++c) row[c] *= inv;
    }
    std::fill(row + nk, row + W, 0.0f);
  }
  for (int64_t i = nq; i < BQ; ++i) std::fill(Pb + i * W, Pb + (i + 1) * W, 0.0f);
}

}  // namespace

int64_t AttentionPlan::key_begin(const AttentionDims& d, int64_t block) const {
  int64_t lo, hi;
  key_range(d, d.q_offset + block * block_q, &lo, &hi);
  return lo;
}

int64_t AttentionPlan::key_end(const AttentionDims& d, int64_t block) const {
  const int64_t last = std::min(d.q_len, (block + 1) * block_q) - 1;
  int64_t lo, hi;
  key_range(d, d.q_offset + last, &lo, &hi);
  return std::max(hi, key_begin(d, block));
}

AttentionPlan attention_plan(const AttentionDims& d) {
  TFM_CHECK(d.batch > 0 && d.n_head > 0 && d.q_len > 0 && d.kv_len > 0 && d.head_dim > 0,
            "attention: sizes must be positive: batch=", d.batch, " n_head=", d.n_head, " q_len=", d.q_len,
            " kv_len=", d.kv_len, " head_dim=", d.head_dim);
  const int64_t kv_heads = d.n_kv_head > 0 ? d.n_kv_head : d.n_head;
  TFM_CHECK(d.n_kv_head >= 0 && d.n_head % kv_heads == 0, "attention: n_kv_head = ", d.n_kv_head,
            " does not divide n_head = ", d.n_head);
  const int64_t width_needed = d.n_head * d.head_dim, kv_width = kv_heads * d.head_dim;
  TFM_CHECK(d.ldq >= width_needed && d.ldo >= width_needed && d.ldk >= kv_width && d.ldv >= kv_width,
            "attention: row strides must hold n_head·head_dim = ", width_needed, " columns (Q, O) and n_kv_head·head_dim = ",
            kv_width, " (K, V)");
  TFM_CHECK(d.window >= 0, "attention: window must be >= 0, found ", d.window);
  TFM_CHECK(d.dropout_p >= 0.0f && d.dropout_p < 1.0f, "attention: dropout must be in [0, 1), found ", d.dropout_p);
  AttentionPlan plan;
  plan.block_q = std::max<int64_t>(1, std::min(d.block_q, d.q_len));
  plan.n_blocks = (d.q_len + plan.block_q - 1) / plan.block_q;
  for (int64_t b = 0; b < plan.n_blocks; ++b)
    plan.width = std::max(plan.width, plan.key_end(d, b) - plan.key_begin(d, b));
  return plan;
}

uint64_t attention_dropout_blocks(const AttentionDims& d) {
  return d.dropout_p > 0.0f ? static_cast<uint64_t>((d.batch * d.n_head * d.q_len * d.kv_len + 3) / 4) : 0;
}

namespace {
template <typename OT>
void attention_forward_impl(OT* O, float* P, const float* Q, const float* K, const float* V, const AttentionDims& d,
                            const AttentionPlan& plan) {
  const int64_t H = d.n_head, dh = d.head_dim, W = plan.width, BQ = plan.block_q;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const Generator gen(d.dropout_seed);
  Tensor scratch = thread_scratch(plan);
  const bool bf16 = bf16_compute();
  Tensor q16, k16, v16, scratch16 = thread_scratch_bf16(plan, bf16);
  const Operand q = make_operand(Q, d.ldq, d.batch * d.q_len, H * dh, bf16, q16);
  const int64_t group = H / plan.kv_heads(d);  // query heads per K/V head
  const Operand k = make_operand(K, d.ldk, d.batch * d.kv_len, H / group * dh, bf16, k16);
  const Operand v = make_operand(V, d.ldv, d.batch * d.kv_len, H / group * dh, bf16, v16);
  const bool parallel = d.batch * H * d.q_len * W * dh > kParallelMinWork;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (parallel)
  for (int64_t bh = 0; bh < d.batch * H; ++bh) {
    for (int64_t blk = 0; blk < plan.n_blocks; ++blk) {
      const int64_t b = bh / H, h = bh % H, kh = h / group;
      const int64_t q0 = blk * BQ, q1 = std::min(d.q_len, q0 + BQ), nq = q1 - q0;
      const int64_t k0 = plan.key_begin(d, blk), k1 = plan.key_end(d, blk), nk = k1 - k0;
      float* slots = scratch.data() + omp_get_thread_num() * kScratchSlots * BQ * W;
      float* Pb = P ? P + (bh * plan.n_blocks + blk) * BQ * W : slots + 2 * BQ * W;
      OT* Ob = O + (b * d.q_len + q0) * d.ldo + h * dh;
      if (nk == 0) {
        std::memset(Pb, 0, BQ * W * sizeof(float));
        for (int64_t i = 0; i < nq; ++i) std::memset(Ob + i * d.ldo, 0, dh * sizeof(OT));
        continue;
      }
      block_weights(Pb, q.at(b * d.q_len + q0, h * dh), k.at(b * d.kv_len + k0, kh * dh), d, plan, b, q0, nq, k0, nk,
                    scale);
      const float* Pv = Pb;
      if (d.dropout_p > 0.0f) {
        float* Pd = slots;
        const float keep_scale = 1.0f / (1.0f - d.dropout_p);
        for (int64_t i = 0; i < nq; ++i) drop_row(Pd + i * W, Pb + i * W, gen, d, bh, q0 + i, k0, nk, keep_scale);
        Pv = Pd;
      }
      gemm_view(false, false, nq, dh, nk, 1.0f, block_view(Pv, nq, nk, W, thread_bf16(scratch16, plan)),
                v.at(b * d.kv_len + k0, kh * dh), 0.0f, Ob, d.ldo);
    }
  }
}
}  // namespace

void attention_forward(float* O, float* P, const float* Q, const float* K, const float* V, const AttentionDims& d,
                       const AttentionPlan& plan) {
  attention_forward_impl(O, P, Q, K, V, d, plan);
}

void attention_forward(bf16_t* O, float* P, const float* Q, const float* K, const float* V, const AttentionDims& d,
                       const AttentionPlan& plan) {
  TFM_CHECK(bf16_compute(), "attention: a bf16 output needs Precision::BF16");
  attention_forward_impl(O, P, Q, K, V, d, plan);
}

void attention_backward(float* dQ, float* dK, float* dV, const float* dO, const float* P, const float* Q,
                        const float* K, const float* V, const AttentionDims& d, const AttentionPlan& plan) {
  const int64_t H = d.n_head, dh = d.head_dim, W = plan.width, BQ = plan.block_q;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  const Generator gen(d.dropout_seed);
  const float keep_scale = d.dropout_p > 0.0f ? 1.0f / (1.0f - d.dropout_p) : 1.0f;
  Tensor scratch = thread_scratch(plan);
  const bool bf16 = bf16_compute();
  // Q, K, V are rounded again rather than kept from the forward pass: one cheap pass
  // each, against holding three more activations per layer until the backward pass.
  Tensor q16, k16, v16, do16, scratch16 = thread_scratch_bf16(plan, bf16);
  const Operand q = make_operand(Q, d.ldq, d.batch * d.q_len, H * dh, bf16, q16);
  const int64_t KVH = plan.kv_heads(d), group = H / KVH;
  const Operand k = make_operand(K, d.ldk, d.batch * d.kv_len, KVH * dh, bf16, k16);
  const Operand v = make_operand(V, d.ldv, d.batch * d.kv_len, KVH * dh, bf16, v16);
  const Operand dout = make_operand(dO, d.ldo, d.batch * d.q_len, H * dh, bf16, do16);
  const bool parallel = d.batch * H * d.q_len * W * dh > kParallelMinWork;
  // Blocks of one (batch, K/V head) share key rows of dK and dV, also across the
  // query heads of its group: one thread per (batch, K/V head).
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (int64_t bkv = 0; bkv < d.batch * KVH; ++bkv) {
    const int64_t b = bkv / KVH, kh = bkv % KVH;
    float* Pd = scratch.data() + omp_get_thread_num() * kScratchSlots * BQ * W;
    float* dS = Pd + BQ * W;
    float* Pr = dS + BQ * W;
    bf16_t* h16 = thread_bf16(scratch16, plan);
    for (int64_t hb = 0; hb < group * plan.n_blocks; ++hb) {
      const int64_t h = kh * group + hb / plan.n_blocks, blk = hb % plan.n_blocks, bh = b * H + h;
      const int64_t q0 = blk * BQ, q1 = std::min(d.q_len, q0 + BQ), nq = q1 - q0;
      const int64_t k0 = plan.key_begin(d, blk), k1 = plan.key_end(d, blk), nk = k1 - k0;
      if (nk == 0) continue;
      const View Qb = q.at(b * d.q_len + q0, h * dh), Kb = k.at(b * d.kv_len + k0, kh * dh);
      const View dOb = dout.at(b * d.q_len + q0, h * dh);
      const float* Pb = P ? P + (bh * plan.n_blocks + blk) * BQ * W : Pr;
      if (!P) block_weights(Pr, Qb, Kb, d, plan, b, q0, nq, k0, nk, scale);  // recompute, flash-attention style
      const float* Pv = Pb;
      if (d.dropout_p > 0.0f) {
        for (int64_t i = 0; i < nq; ++i) drop_row(Pd + i * W, Pb + i * W, gen, d, bh, q0 + i, k0, nk, keep_scale);
        Pv = Pd;
      }
      // dV += P_dropᵀ dO
      if (dV)
        gemm_view(true, false, nk, dh, nq, 1.0f, block_view(Pv, nq, nk, W, h16), dOb, 1.0f,
                  dV + (b * d.kv_len + k0) * d.ldv + kh * dh, d.ldv);
      if (!dQ && !dK) continue;
      // dP = dO Vᵀ (then through the dropout mask)
      gemm_view(false, true, nq, nk, dh, 1.0f, dOb, v.at(b * d.kv_len + k0, kh * dh), 0.0f, dS, W);
      for (int64_t i = 0; i < nq; ++i) {
        float* g = dS + i * W;
        const float* p = Pb + i * W;
        if (d.dropout_p > 0.0f) drop_row(g, g, gen, d, bh, q0 + i, k0, nk, keep_scale);  // in place
        // softmax backward: dS = P ⊙ (dP − Σ_c dP_c P_c)
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (int64_t c = 0; c < nk; ++c) dot += g[c] * p[c];
#pragma omp simd
        for (int64_t c = 0; c < nk; ++c) g[c] = p[c] * (g[c] - dot);
      }
      // S = scale·Q Kᵀ: dQ += scale·dS K, dK += scale·dSᵀ Q
      const View dSb = block_view(dS, nq, nk, W, h16);
      if (dQ) gemm_view(false, false, nq, dh, nk, scale, dSb, Kb, 1.0f, dQ + (b * d.q_len + q0) * d.ldq + h * dh, d.ldq);
      if (dK) gemm_view(true, false, nk, dh, nq, scale, dSb, Qb, 1.0f, dK + (b * d.kv_len + k0) * d.ldk + kh * dh, d.ldk);
    }
  }
}

void attention_dense_weights(float* out, const float* P, const AttentionDims& d, const AttentionPlan& plan) {
  const int64_t W = plan.width, BQ = plan.block_q;
  std::memset(out, 0, d.batch * d.n_head * d.q_len * d.kv_len * sizeof(float));
  for (int64_t bh = 0; bh < d.batch * d.n_head; ++bh)
    for (int64_t blk = 0; blk < plan.n_blocks; ++blk) {
      const int64_t q0 = blk * BQ, q1 = std::min(d.q_len, q0 + BQ);
      const int64_t k0 = plan.key_begin(d, blk), k1 = plan.key_end(d, blk);
      for (int64_t i = q0; i < q1; ++i)
        for (int64_t j = k0; j < k1; ++j)
          out[(bh * d.q_len + i) * d.kv_len + j] = P[((bh * plan.n_blocks + blk) * BQ + (i - q0)) * W + (j - k0)];
    }
}

}  // namespace tfm
