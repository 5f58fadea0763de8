#pragma once
// Beam search with length normalisation over any step-wise decoder
// (Sutskever et al. 2014; length normalisation as Marian's: the score of a
// finished hypothesis is its log-probability divided by length^alpha, the
// length counting the end token; a hypothesis cut at max_len counts one too,
// as if its end token followed).
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace tfm {

// A decoder holding `rows` live hypotheses (their states, key/value caches).
class BeamDecoder {
 public:
  virtual ~BeamDecoder() = default;
  // Feeds each live row its last token; returns log-probabilities [rows, vocab].
  virtual Tensor step(const std::vector<int32_t>& last_tokens) = 0;
  // Keeps, in this order, the rows listed (a row may be repeated).
  virtual void reorder(const std::vector<int64_t>& rows) = 0;
};

struct BeamOptions {
  int64_t beam = 5;
  double length_penalty = 1.0;  // alpha; 0 = raw log-probability
  int64_t max_len = 100;        // tokens generated, end token included
  int32_t bos = 1, eos = 2;
};

struct Hypothesis {
  std::vector<int32_t> tokens;  // without bos and eos
  double log_prob = 0.0;
  double score = 0.0;  // log_prob / length^alpha, length = tokens + 1 (the end token, or the cut)
};

// Starts from one row (the decoder's state after encoding) and returns the
// finished hypotheses, best first (at most `beam`). A hypothesis cut at
// max_len counts as finished.
std::vector<Hypothesis> beam_search(BeamDecoder& decoder, const BeamOptions& options);

// Batched: the decoder starts with one row per sentence (n_sentences rows);
// every step feeds the live hypotheses of all unfinished sentences as one
// batch, sentence by sentence. Each sentence's result is what beam_search
// would return for it alone.
std::vector<std::vector<Hypothesis>> beam_search_batch(BeamDecoder& decoder, int64_t n_sentences,
                                                       const BeamOptions& options);

}  // namespace tfm
