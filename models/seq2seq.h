#pragma once
// Seq2SeqModel: what translation needs from an encoder-decoder beyond its
// training loss — greedy decoding, a beam-search decoder over a batch of
// sentences, and the cross-attention weights of one sentence pair (heatmaps).
// The Transformer (models/transformer.h) and the RNN with Luong attention
// (models/rnn_attention.h) implement it; the tools (tfm train's BLEU
// validation, tfm translate, tfm attention) use only this interface.
#include <memory>
#include <vector>

#include "models/beam.h"
#include "models/model.h"

namespace tfm {

class Seq2SeqModel : public Model {
 public:
  // source [B, S] ids, padding [B, S] (nonzero = pad) or undefined. One row per
  // sentence: its ids up to eos (excluded) or max_steps tokens.
  virtual std::vector<std::vector<int32_t>> greedy(const Tensor& source, const Tensor& padding, int32_t bos,
                                                   int32_t eos, int64_t max_steps) = 0;
  // A decoder holding one row per source sentence, ready for beam_search;
  // max_steps bounds the tokens it will be asked for (cache sizes).
  virtual std::unique_ptr<BeamDecoder> beam_decoder(const Tensor& source, const Tensor& padding,
                                                    int64_t max_steps) = 0;
  // Cross-attention weights [T, S] of one pair: source [1, S], decoder input
  // target_in [1, T] (bos, then the target tokens). layer/head pick one map
  // (-1: the last layer; the average over heads); models with one attention
  // accept only layer -1 or 0 and head -1 or 0.
  virtual Tensor cross_attention(const Tensor& source, const Tensor& target_in, int64_t layer, int64_t head) = 0;
  virtual int64_t attention_layers() const = 0;
  virtual int64_t attention_heads() const = 0;
};

// Rows `rows` of t [N, ...], in that order (rows may repeat): beam reordering.
Tensor gather_rows(const Tensor& t, const std::vector<int64_t>& rows);

}  // namespace tfm
