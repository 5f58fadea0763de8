#pragma once
#include "autograd/variable.h"
#include "core/rng.h"

namespace tfm {

struct AttentionOptions {
  int64_t n_head = 1;
  int64_t n_kv_head = 0;  // K/V heads (grouped-query attention), dividing n_head; 0: n_head
  bool causal = false;
  int64_t window = 0;     // 0: global; see core/kernels/attention.h for the exact window rule
  int64_t q_offset = 0;   // position of the first query (incremental decoding)
  Tensor key_padding;     // undefined, or I32 [batch, kv_len], nonzero = padding
  float dropout = 0.0f;   // on the attention weights, training only
  bool training = false;
  Generator* generator = nullptr;  // for dropout; required when dropout is active
  Tensor* weights = nullptr;       // when set, receives dense weights [batch, n_head, q_len, kv_len]
  // Keep the softmax weights for the backward pass (fast, memory O(T²) per
  // head for global attention) or recompute them block by block (one more
  // Q Kᵀ GEMM, memory O(T)). Auto stores them when they take at most
  // kAttentionStoreLimitBytes, as at the usual training lengths.
  enum class Recompute { Auto, Always, Never };
  Recompute recompute = Recompute::Auto;
  // Under Precision::BF16: return the output as a BF16 tensor, for a linear layer
  // to take as its GEMM operand (the output projection). Ignored in fp32.
  bool bf16_output = false;
};

inline constexpr int64_t kAttentionStoreLimitBytes = int64_t{64} << 20;

// Multi-head scaled dot-product attention: q [B, Tq, d], k and v [B, Tk, d_kv]
// (d_kv = d·n_kv_head/n_head), heads as contiguous chunks of d/n_head columns
// → [B, Tq, d] (heads concatenated).
Variable scaled_dot_product_attention(const Variable& q, const Variable& k, const Variable& v,
                                      const AttentionOptions& options);

// The same, reading q as d_model columns and k, v as d_model·n_kv_head/n_head
// columns starting at `column` of wider
// tensors, as a fused projection produces them ([B, T, 3·d_model] for q|k|v):
// no copies, and the gradients land in the same columns of the sources' gradients.
struct AttentionInput {
  Variable source;     // [B, len, width]
  int64_t column = 0;  // first of the d_model columns
};
Variable scaled_dot_product_attention(const AttentionInput& q, const AttentionInput& k, const AttentionInput& v,
                                      int64_t d_model, const AttentionOptions& options);

}  // namespace tfm
