#pragma once
// Decoder-only Transformer language model (GPT-style, with the modern blocks
// of LLaMA-like models as options): token embedding plus learned, sinusoidal,
// rotary (inside attention) or no position encoding; n_layer blocks (pre-norm:
// x += attn(ln1(x)); x += ffn(ln2(x)); post-norm: x = ln1(x + attn(x));
// x = ln2(x + ffn(x))) with LayerNorm or RMSNorm, multi-head or grouped-query
// attention and a registered feed-forward layer (feed_forward, swiglu, ...);
// a final norm ln_f; a registered output head (layers/head.h: "linear", tied to
// the token embedding or separate, no bias; "adaptive" softmax; ...).
#include <memory>
#include <vector>

#include "layers/attention.h"
#include "layers/basic.h"
#include "layers/norm.h"
#include "layers/registry.h"
#include "models/block_config.h"
#include "models/model.h"

namespace tfm {

enum class PositionEncoding { Learned, Sinusoidal, Rope, None };

// The block keys (n_head, d_model, d_ff, activation, dropout, norm, attention,
// ffn, ...) are BlockConfig's, with its defaults: 4 heads, d_model 128, gelu,
// no dropout, pre-norm LayerNorm.
struct LmConfig : BlockConfig {
  int64_t n_layer = 4, seq_len = 64, vocab_size = 0;
  int64_t n_kv_head = 0;  // grouped-query attention: key/value heads, dividing n_head (0: n_head)
  int64_t kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  PositionEncoding pos_emb = PositionEncoding::Learned;
  double rope_theta = 10000.0;  // base of the rotary angles (pos_emb "rope")
  bool bias = true;             // biases of every Linear and norm (the head has none either way)
  int64_t attention_window = 0;  // 0: global

  // Validates every key (see docs/config.md); vocab_size 0 means "from the tokenizer".
  static LmConfig parse(const nlohmann::json& model);
  nlohmann::json to_json() const;
};

class LmBlock : public Module {
 public:
  explicit LmBlock(const LmConfig& c);
  Variable forward(const Variable& x);
  Variable forward_cached(const Variable& x, KVCache& cache, int64_t capacity);

  std::unique_ptr<SequenceLayer> ln1;
  std::unique_ptr<AttentionLayer> attn;
  std::unique_ptr<SequenceLayer> ln2;
  std::unique_ptr<SequenceLayer> ffn;

 private:
  Dropout residual_dropout_;
  bool pre_norm_;
};

class LanguageModel : public Model {
 public:
  explicit LanguageModel(const LmConfig& config);
  std::string type() const override { return "lm"; }
  nlohmann::json config() const override { return config_.to_json(); }
  const LmConfig& lm_config() const { return config_; }
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_len() const override { return config_.seq_len; }

  // ids [B, T] (T <= seq_len) → logits [B, T, vocab] (the head's scores: for a
  // normalised head such as "adaptive", the log-probabilities)
  Variable forward(const Tensor& ids);
  Variable loss(const Batch& batch, const CrossEntropyOptions& options = {}) override;
  void init_weights(Generator& gen) override;

  // Incremental decoding (no gradient): logits of the new positions of ids [B, n],
  // appended after the positions already in the caches (one per block).
  Variable forward_cached(const Tensor& ids, std::vector<KVCache>& caches);

  Embedding tok_emb;
  std::unique_ptr<Embedding> pos_emb;  // pos_emb "learned" only
  std::vector<std::unique_ptr<LmBlock>> blocks;
  std::unique_ptr<SequenceLayer> ln_f;
  std::unique_ptr<OutputHead> head;  // "linear" tied to tok_emb has no tensor of its own

 private:
  // ln_f of the last block's output for ids [B, T]: what the head reads.
  Variable features(const Tensor& ids);
  // Token plus absolute position encoding of ids [B, n] at positions start … start + n − 1.
  Variable embed(const Tensor& ids, int64_t start) const;
  Tensor sinusoids_;  // [seq_len, d_model], pos_emb "sinusoidal" only
  LmConfig config_;
  Dropout emb_dropout_;
};

}  // namespace tfm
