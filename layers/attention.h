#pragma once
// Multi-head attention, written by hand (Vaswani et al. 2017, section 3.2):
// q, k, v projections, heads as contiguous d_model/n_head column chunks,
// softmax(q kᵀ/√d_head + mask) v per head, heads concatenated, `out` projection.
// Self- and cross-attention, causal and key-padding masks, attention dropout,
// optional sliding window (local attention, O(T·w)), the attention weights on
// request, and a key/value cache for incremental decoding.
#include <memory>

#include "autograd/ops/attention.h"
#include "layers/basic.h"
#include "layers/registry.h"
#include "layers/rope.h"

namespace tfm {

struct AttentionMask {
  bool causal = false;
  Tensor key_padding;  // undefined or I32 [batch, kv_len], nonzero = padding
};

// Keys and values of the positions decoded so far, for incremental decoding.
struct KVCache {
  Tensor k, v;         // [batch, capacity, n_kv_head·d_model/n_head]
  int64_t length = 0;  // positions filled
  void reset() { length = 0; }
};

// Variants of the projections (the decoder-only LM's modern blocks).
struct AttentionLayout {
  // Grouped-query attention (Ainslie et al. 2023): k and v project to n_kv_head
  // heads of d_model/n_head columns (0: n_head); n_kv_head must divide n_head.
  int64_t n_kv_head = 0;
  bool bias = true;  // biases of q, k, v and out
  // > 0: rotary position embeddings (layers/rope.h) on q and k after the
  // projections, base rope_theta, table precomputed for rope_positions positions.
  double rope_theta = 0.0;
  int64_t rope_positions = 0;
};

// The attention sublayer of a block, as the models call it: the "attention"
// slot of a model config names a registered implementation ("multi_head").
class AttentionLayer : public Module {
 public:
  // query [B, Tq, d]; memory [B, Tk, d] (pass query itself for self-attention).
  // weights, when not null, receives [B, n_head, Tq, Tk].
  virtual Variable forward(const Variable& query, const Variable& memory, const AttentionMask& mask = {},
                           Tensor* weights = nullptr) = 0;
  Variable operator()(const Variable& x, const AttentionMask& mask = {}) { return forward(x, x, mask); }

  // Incremental self-attention (no gradient): appends the new positions'
  // keys/values of x [B, Tnew, d] to cache and attends causally over all of them.
  virtual Variable forward_cached(const Variable& x, KVCache& cache, int64_t capacity) = 0;
  // Cross-attention over a memory whose projected keys/values are cached once.
  virtual Variable forward_cross_cached(const Variable& query, const Variable& memory, KVCache& cache,
                                        const AttentionMask& mask = {}) = 0;
};

// What a model tells its attention sublayers.
struct AttentionContext {
  int64_t d_model = 0;
  int64_t n_head = 1;
  float dropout = 0.0f;  // on the attention weights
  int64_t window = 0;    // 0: global; w: each position sees the w most recent
  AttentionLayout layout;
};

using AttentionTable = Registry<AttentionLayer, const AttentionContext&, const nlohmann::json&>;
AttentionTable& attention_registry();
std::unique_ptr<AttentionLayer> make_attention(const LayerSlot& slot, const AttentionContext& context);

class MultiHeadAttention : public AttentionLayer {
 public:
  MultiHeadAttention(int64_t d_model, int64_t n_head, float dropout = 0.0f, int64_t window = 0,
                     const AttentionLayout& layout = {});
  MultiHeadAttention(const AttentionContext& context, const nlohmann::json& options);

  using AttentionLayer::forward;
  Variable forward(const Variable& query, const Variable& memory, const AttentionMask& mask = {},
                   Tensor* weights = nullptr) override;
  Variable forward_cached(const Variable& x, KVCache& cache, int64_t capacity) override;
  // Without rotary embeddings.
  Variable forward_cross_cached(const Variable& query, const Variable& memory, KVCache& cache,
                                const AttentionMask& mask = {}) override;

  int64_t n_head() const { return n_head_; }
  int64_t n_kv_head() const { return n_kv_head_; }
  int64_t window() const { return window_; }
  const RotaryEmbedding* rotary() const { return rope_.get(); }

  Linear q, k, v, out;

 private:
  AttentionOptions options(bool causal) const;
  int64_t n_head_, n_kv_head_;
  std::unique_ptr<RotaryEmbedding> rope_;
  float dropout_;
  int64_t window_;
};

}  // namespace tfm

// TFM_REGISTER_ATTENTION("linear_attention", LinearAttention, "help", {keys}):
// Class constructible from (const AttentionContext&, const nlohmann::json& options).
#define TFM_REGISTER_ATTENTION(name, Class, help_text, ...)                                                 \
  TFM_REGISTRY_ADD(                                                                                       \
      ::tfm::attention_registry(), name,                                                                  \
      [](const ::tfm::AttentionContext& ctx, const nlohmann::json& opts) -> std::unique_ptr<::tfm::AttentionLayer> { \
        return std::make_unique<Class>(ctx, opts);                                                        \
      },                                                                                                  \
      help_text __VA_OPT__(, __VA_ARGS__))
