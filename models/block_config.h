#pragma once
// What every Transformer-style model config shares: the width, heads and
// activation of its blocks, and their sublayer slots (attention, ffn, norm),
// each a registered layer named as "ffn": "swiglu" or {"type": NAME, ...options}.
// The decoder-only LM and the encoder-decoder parse and write these keys here,
// one way, with their own defaults.
#include <string>
#include <vector>

#include "autograd/ops/activation.h"
#include "core/config.h"
#include "core/registry.h"
#include "layers/attention.h"
#include "layers/head.h"
#include "layers/norm.h"
#include "layers/registry.h"

namespace tfm {

struct BlockConfig {
  int64_t n_head = 4, d_model = 128, d_ff = 512;
  Activation activation = Activation::Gelu;
  double dropout = 0.0;
  // Dropout by site, each following `dropout` while negative (the default, so a config or a
  // C++ struct that sets dropout alone keeps its single rate): the embedding sum, the attention
  // weights, and the residual branches (each sublayer's output and the FFN's hidden layer).
  double embedding_dropout = -1.0, attention_dropout = -1.0, residual_dropout = -1.0;
  double embedding_p() const { return embedding_dropout >= 0 ? embedding_dropout : dropout; }
  double attention_p() const { return attention_dropout >= 0 ? attention_dropout : dropout; }
  double residual_p() const { return residual_dropout >= 0 ? residual_dropout : dropout; }
  double layer_norm_eps = 1e-5;  // every norm's eps ("layer_norm_eps", or the norm slot's "eps")
  bool pre_norm = true;          // "norm_placement": "pre" | "post" (legacy: "norm": "pre" | "post")
  LayerSlot attention{"multi_head"};
  LayerSlot ffn{"feed_forward"};
  LayerSlot norm{"layernorm"};  // options other than eps, for a registered norm of one's own
  LayerSlot head{"linear"};     // the output head (layers/head.h)
  bool tie_embeddings = true;   // the output shares the (target) token embedding; default: whether the head can

  // Reads n_head, d_model, d_ff, activation, the dropouts, layer_norm_eps, norm,
  // norm_placement, attention, ffn, head and tie_embeddings from r, with this
  // object's values as the defaults (d_ff: 4·d_model when absent; tie_embeddings:
  // whether the head can share the embedding).
  void parse_block(ConfigReader& r);
  // Writes the same keys.
  void write_block(nlohmann::json& j) const;
  // Checks what needs several keys (d_model divisible by n_head).
  void check_block() const;

  NormContext norm_context(bool bias = true) const;
  std::unique_ptr<SequenceLayer> make_norm(bool bias = true) const;
  std::unique_ptr<SequenceLayer> make_ffn(bool bias = true) const;
  AttentionContext attention_context(int64_t window = 0, const AttentionLayout& layout = {}) const;
  std::unique_ptr<AttentionLayer> make_attention(int64_t window = 0, const AttentionLayout& layout = {}) const;
  // The head over the vocabulary, reading embedding when tie_embeddings.
  std::unique_ptr<OutputHead> make_head(int64_t vocab_size, const Variable& embedding) const;

  // A model entry's keys: its own first keys, the block keys above with this
  // object's defaults, then its other keys.
  std::vector<ConfigKey> entry_keys(std::vector<ConfigKey> first, const std::vector<ConfigKey>& rest) const;
};

}  // namespace tfm
