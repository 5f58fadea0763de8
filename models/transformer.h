#pragma once
// The Vaswani et al. (2017) encoder-decoder Transformer: sinusoidal positions,
// embeddings scaled by √d_model, post-LN by default (x = ln(x + sublayer(x))),
// encoder self-attention with a padding mask, decoder causal self-attention
// and cross-attention, a final projection to the vocabulary. One joint
// vocabulary; source, target and output embeddings can be shared.
#include <memory>
#include <vector>

#include "layers/attention.h"
#include "layers/basic.h"
#include "layers/registry.h"
#include "models/block_config.h"
#include "models/seq2seq.h"

namespace tfm {

// The block keys (n_head, d_model, d_ff, activation, dropout, norm, attention,
// ffn, ...) are BlockConfig's, here with Vaswani et al.'s defaults: 8 heads,
// d_model 512, relu, dropout 0.1, post-norm LayerNorm.
struct TransformerConfig : BlockConfig {
  TransformerConfig();
  int64_t n_encoder_layers = 6, n_decoder_layers = 6;
  int64_t max_len = 256, vocab_size = 0;
  bool share_embeddings = true;  // one `emb` for source and target

  static TransformerConfig parse(const nlohmann::json& model);
  nlohmann::json to_json() const;
};

class EncoderLayer : public Module {
 public:
  explicit EncoderLayer(const TransformerConfig& c);
  Variable forward(const Variable& x, const AttentionMask& mask);
  std::unique_ptr<AttentionLayer> self_attn;
  std::unique_ptr<SequenceLayer> ln1;
  std::unique_ptr<SequenceLayer> ffn;
  std::unique_ptr<SequenceLayer> ln2;

 private:
  Dropout dropout_;
  bool pre_norm_;
};

class DecoderLayer : public Module {
 public:
  explicit DecoderLayer(const TransformerConfig& c);
  Variable forward(const Variable& x, const Variable& memory, const AttentionMask& memory_mask,
                   Tensor* cross_weights = nullptr);
  Variable forward_cached(const Variable& x, const Variable& memory, const AttentionMask& memory_mask,
                          KVCache& self_cache, KVCache& cross_cache, int64_t capacity);
  std::unique_ptr<AttentionLayer> self_attn;
  std::unique_ptr<SequenceLayer> ln1;
  std::unique_ptr<AttentionLayer> cross_attn;
  std::unique_ptr<SequenceLayer> ln2;
  std::unique_ptr<SequenceLayer> ffn;
  std::unique_ptr<SequenceLayer> ln3;

 private:
  Dropout dropout_;
  bool pre_norm_;
};

// Layer stacks, so that names read encoder.layers.{i}... and decoder.layers.{i}...
class EncoderStack : public Module {
 public:
  EncoderStack(const TransformerConfig& c, int64_t n);
  std::vector<std::unique_ptr<EncoderLayer>> layers;
  std::unique_ptr<SequenceLayer> ln_f;  // pre-norm only
};
class DecoderStack : public Module {
 public:
  DecoderStack(const TransformerConfig& c, int64_t n);
  std::vector<std::unique_ptr<DecoderLayer>> layers;
  std::unique_ptr<SequenceLayer> ln_f;  // pre-norm only
};

// Decoding state: the encoder output and per-layer caches.
struct DecoderState {
  Variable memory;
  AttentionMask memory_mask;
  std::vector<KVCache> self_caches, cross_caches;
  int64_t capacity = 0;  // target positions the self-attention caches hold (0: model.seq_len)
  int64_t length() const { return self_caches.empty() ? 0 : self_caches[0].length; }
};

class EncoderDecoder : public Seq2SeqModel {
 public:
  explicit EncoderDecoder(const TransformerConfig& config);
  std::string type() const override { return "transformer"; }
  nlohmann::json config() const override { return config_.to_json(); }
  const TransformerConfig& transformer_config() const { return config_; }
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_len() const override { return config_.max_len; }

  // source [B, S] → memory [B, S, d]; source_padding [B, S] or undefined.
  Variable encode(const Tensor& source, const Tensor& source_padding);
  // Decoder over target ids [B, T] → logits [B, T, V] (the head's scores); cross_weights of decoder
  // layer weights_layer (-1: the last) on request ([B, n_head, T, S]).
  Variable decode(const Tensor& target_in, const Variable& memory, const Tensor& source_padding,
                  Tensor* cross_weights = nullptr, int64_t weights_layer = -1);
  Variable loss(const Batch& batch, const CrossEntropyOptions& options = {}) override;
  void init_weights(Generator& gen) override;

  // capacity: target positions to cache (0: model.seq_len).
  DecoderState start_decoding(const Tensor& source, const Tensor& source_padding, int64_t capacity = 0);
  // Logits [B, n, V] of the new target ids [B, n], using and extending the caches.
  Variable decode_step(const Tensor& target_ids, DecoderState& state);
  // Greedy decoding: per row, the ids before eos (at most max_steps).
  std::vector<std::vector<int32_t>> greedy(const Tensor& source, const Tensor& source_padding, int32_t bos,
                                           int32_t eos, int64_t max_steps) override;
  // Batched beam search with key/value caches reordered between steps.
  std::unique_ptr<BeamDecoder> beam_decoder(const Tensor& source, const Tensor& padding, int64_t max_steps) override;
  Tensor cross_attention(const Tensor& source, const Tensor& target_in, int64_t layer, int64_t head) override;
  int64_t attention_layers() const override { return config_.n_decoder_layers; }
  int64_t attention_heads() const override { return config_.n_head; }

  std::unique_ptr<Embedding> emb, src_emb, tgt_emb;  // emb when shared, else src_emb and tgt_emb
  EncoderStack encoder;
  DecoderStack decoder;
  std::unique_ptr<OutputHead> head;  // "linear" tied to the target embedding has no tensor of its own

 private:
  Variable embed(const Embedding& table, const Tensor& ids, int64_t position_offset);
  // The decoder's last states [B, T, d], what the head reads.
  Variable decoder_states(const Tensor& target_in, const Variable& memory, const Tensor& source_padding,
                          Tensor* cross_weights, int64_t weights_layer);
  const Embedding& source_embedding() const { return emb ? *emb : *src_emb; }
  const Embedding& target_embedding() const { return emb ? *emb : *tgt_emb; }
  TransformerConfig config_;
  Tensor positions_;  // sinusoidal [max_len, d_model]
  Dropout dropout_;
};

}  // namespace tfm
