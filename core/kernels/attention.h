#pragma once
// Scaled dot-product attention over heads laid out as contiguous column chunks
// (Vaswani et al. 2017, eq. 1): for head h, columns h·d_head … (h+1)·d_head − 1
// of Q, K and V; O_h = dropout(softmax(Q_h K_hᵀ/√d_head + mask)) V_h, written
// to the same columns of O. No head transposes: the GEMMs read strided rows.
//
// Queries are processed in blocks of `block_q` rows; each block only touches
// the key range its mask allows (causal: keys up to the block's last position;
// local window w: the w most recent keys), so causal attention skips the upper
// triangle and local attention costs O(T·w), not O(T²). The softmax weights P
// are either kept per block in a [batch·n_head, n_blocks, block_q, width]
// buffer (width = the widest key range) for the backward pass, or, when P is
// null, not stored at all: the backward pass then recomputes each block's
// weights from Q and K (flash-attention style), so memory stays O(T) per head
// plus a block_q × width scratch per thread, for one extra Q Kᵀ GEMM.
#include <cstdint>

#include "core/kernels/convert.h"

namespace tfm {

struct AttentionDims {
  int64_t batch = 1, n_head = 1, q_len = 1, kv_len = 1, head_dim = 1;
  // Grouped-query attention (Ainslie et al. 2023): K and V have n_kv_head heads
  // (0: n_head), n_kv_head divides n_head, and query head h reads K/V head
  // h / (n_head / n_kv_head), so consecutive query heads share one K/V head.
  int64_t n_kv_head = 0;
  int64_t ldq = 0, ldk = 0, ldv = 0, ldo = 0;  // row strides of Q, K, V, O (elements)
  bool causal = false;
  // 0: global. Otherwise key j is visible from query position p iff
  // causal: p − window < j ≤ p (the window most recent positions, itself included);
  // non-causal: |p − j| < window.
  int64_t window = 0;
  int64_t q_offset = 0;                 // query row i sits at position q_offset + i (incremental decoding)
  const int32_t* key_padding = nullptr;  // [batch, kv_len], nonzero = padding (never attended)
  float dropout_p = 0.0f;               // on the attention weights
  uint64_t dropout_seed = 0, dropout_first_block = 0;
  int64_t block_q = 64;
};

struct AttentionPlan {
  int64_t block_q = 0, n_blocks = 0, width = 0;
  int64_t key_begin(const AttentionDims& d, int64_t block) const;
  int64_t key_end(const AttentionDims& d, int64_t block) const;
  int64_t kv_heads(const AttentionDims& d) const { return d.n_kv_head > 0 ? d.n_kv_head : d.n_head; }
  int64_t p_numel(const AttentionDims& d) const { return d.batch * d.n_head * n_blocks * block_q * width; }
};

// Validates the dims (throws tfm::Error) and lays out the blocks.
AttentionPlan attention_plan(const AttentionDims& d);
// Philox blocks the dropout mask of one call consumes.
uint64_t attention_dropout_blocks(const AttentionDims& d);

// O: [batch, q_len, ldo]; P: plan.p_numel floats, written, or null (not stored).
void attention_forward(float* O, float* P, const float* Q, const float* K, const float* V, const AttentionDims& d,
                       const AttentionPlan& plan);
// The same with O written in bf16 (each element the fp32 accumulation rounded once),
// under Precision::BF16 only: the operand of the output projection's GEMM.
void attention_forward(bf16_t* O, float* P, const float* Q, const float* K, const float* V, const AttentionDims& d,
                       const AttentionPlan& plan);
// Accumulates dQ, dK, dV (each may be null). P: as written by the forward pass,
// or null to recompute the weights block by block.
void attention_backward(float* dQ, float* dK, float* dV, const float* dO, const float* P, const float* Q,
                        const float* K, const float* V, const AttentionDims& d, const AttentionPlan& plan);
// Expands P into dense weights [batch, n_head, q_len, kv_len] (zeros where masked).
void attention_dense_weights(float* W, const float* P, const AttentionDims& d, const AttentionPlan& plan);

}  // namespace tfm
