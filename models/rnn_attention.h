#pragma once
// `rnn-attention`: the LSTM encoder-decoder with attention of Luong et al.
// (2015). The encoder LSTM reads the source; the decoder LSTM starts from the
// encoder's final state (each sentence's own, padding excluded) and at every
// step attends over the encoder states (layers/luong_attention.h) to form the
// attentional state h̃_t = tanh(W_c [c_t; h_t]), from which the next token is
// predicted. With input feeding, h̃_{t−1} is concatenated to the embedding of
// the next decoder input, as in the paper's section 3.3. One layer each way.
//
// Config keys: vocab_size, d_model (embedding and hidden size), seq_len (the
// longest target), dropout, tie_embeddings (target embedding = output layer),
// head (the output head slot, layers/head.h: "linear" or "adaptive"),
// input_feeding, attention {"type": global|local-m|local-p|none,
// "score": dot|general|concat, "window": D}.
#include "layers/head.h"
#include "layers/luong_attention.h"
#include "layers/recurrent.h"
#include "models/beam.h"
#include "models/seq2seq.h"

namespace tfm {

struct RnnAttentionConfig {
  int64_t vocab_size = 0, d_model = 256, max_len = 128;
  float dropout = 0.2f;
  bool tie_embeddings = true, input_feeding = true;
  LuongAttentionConfig attention;
  LayerSlot head{"linear"};
  static RnnAttentionConfig parse(const nlohmann::json& model);
  nlohmann::json to_json() const;
};

class RnnAttention : public Seq2SeqModel {
 public:
  explicit RnnAttention(const RnnAttentionConfig& config);
  std::string type() const override { return "rnn-attention"; }
  nlohmann::json config() const override { return config_.to_json(); }
  int64_t vocab_size() const override { return config_.vocab_size; }
  int64_t max_len() const override { return config_.max_len; }
  Variable loss(const Batch& batch, const CrossEntropyOptions& options = {}) override;
  void init_weights(Generator& gen) override;

  struct Encoded {
    Variable states;  // [B, S, H]
    LSTMCell::State final;
    Tensor padding;  // [B, S] or undefined
  };
  Encoded encode(const Tensor& source, const Tensor& source_padding);
  // Teacher-forced decoding of target inputs [B, T] → logits [B, T, V]; the
  // attention weights [B, T, S] on request (heatmaps).
  Variable decode(const Tensor& target_in, const Encoded& enc, Tensor* weights = nullptr);
  // The same up to the head: the attentional states h̃ [B, T, H] after dropout.
  Variable decoder_states(const Tensor& target_in, const Encoded& enc, Tensor* weights = nullptr);
  // Greedy decoding, one sentence per row: ids up to eos (excluded) or max_steps.
  std::vector<std::vector<int32_t>> greedy(const Tensor& source, const Tensor& source_padding, int32_t bos, int32_t eos,
                                           int64_t max_steps) override;
  std::unique_ptr<BeamDecoder> beam_decoder(const Tensor& source, const Tensor& padding, int64_t max_steps) override;
  Tensor cross_attention(const Tensor& source, const Tensor& target_in, int64_t layer, int64_t head) override;
  int64_t attention_layers() const override { return 1; }
  int64_t attention_heads() const override { return 1; }

  // Beam search for one source sentence [1, S] (batched over the beam's rows).
  std::vector<Hypothesis> beam(const Tensor& source, const BeamOptions& options);

  Embedding src_emb, tgt_emb;
  LSTM encoder;
  LSTMCell decoder;
  LuongAttention attention;
  std::unique_ptr<OutputHead> head;  // the "head" slot; "linear" tied to tgt_emb owns no tensor

 private:
  friend class RnnBeamDecoder;
  // One decoder step: embedded input [B, d] (+ previous h̃) → new state and h̃ [B, d].
  Variable step(const Variable& input, const Variable& feed, LSTMCell::State& state, const Encoded& enc, int64_t t,
                Variable* weights);
  Variable project(const Variable& h) const;
  RnnAttentionConfig config_;
  Dropout dropout_;
};

}  // namespace tfm
