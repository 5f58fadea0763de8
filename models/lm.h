#pragma once
// Decoder-only Transformer language model (GPT-style): token + learned
// position embeddings, n_layer blocks (pre-LN: x += attn(ln1(x)); x += ffn(ln2(x));
// post-LN: x = ln1(x + attn(x)); x = ln2(x + ffn(x))), final LayerNorm ln_f,
// output head tied to the token embedding or separate (no bias).
#include <memory>
#include <vector>

#include "layers/attention.h"
#include "layers/basic.h"
#include "layers/registry.h"
#include "models/model.h"

namespace tfm {

struct LmConfig {
  int64_t n_layer = 4, n_head = 4, d_model = 128, d_ff = 512, seq_len = 64, vocab_size = 0;
  Activation activation = Activation::Gelu;
  bool pre_norm = true;  // "norm": "pre" | "post"
  bool tie_embeddings = true;
  double dropout = 0.0;
  double layer_norm_eps = 1e-5;
  int64_t attention_window = 0;  // 0: global
  std::string ffn = "feed_forward";  // registered layer name of the feed-forward sublayer
  nlohmann::json ffn_options = nlohmann::json::object();

  // Validates every key (see docs/config.md); vocab_size 0 means "from the tokenizer".
  static LmConfig parse(const nlohmann::json& model);
  nlohmann::json to_json() const;
};

class LmBlock : public Module {
 public:
  explicit LmBlock(const LmConfig& c);
  Variable forward(const Variable& x);
  Variable forward_cached(const Variable& x, KVCache& cache, int64_t capacity);

  LayerNorm ln1;
  MultiHeadAttention attn;
  LayerNorm ln2;
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

  // ids [B, T] (T <= seq_len) → logits [B, T, vocab]
  Variable forward(const Tensor& ids);
  Variable loss(const Batch& batch, const CrossEntropyOptions& options = {}) override;
  void init_weights(Generator& gen) override;

  // Incremental decoding (no gradient): logits of the new positions of ids [B, n],
  // appended after the positions already in the caches (one per block).
  Variable forward_cached(const Tensor& ids, std::vector<KVCache>& caches);

  Embedding tok_emb, pos_emb;
  std::vector<std::unique_ptr<LmBlock>> blocks;
  LayerNorm ln_f;
  std::unique_ptr<Linear> head;  // null when tied

 private:
  Variable logits(const Variable& hidden) const;
  LmConfig config_;
  Dropout emb_dropout_;
};

}  // namespace tfm
