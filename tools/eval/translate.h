#pragma once
// Translation with any Seq2SeqModel: sentences are encoded (tokens + eos),
// sorted by length into batches (little padding), decoded greedily (beam 1)
// or by batched beam search with length normalisation, and returned in input
// order. Used by `tfm translate`, `tfm attention` and BLEU validation in
// `tfm train`.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "models/seq2seq.h"
#include "tools/text/tokenizer.h"

namespace tfm {

struct TranslateOptions {
  int64_t beam = 1;              // 1: greedy
  double length_penalty = 1.0;   // alpha: score = log p / length^alpha
  int64_t max_len = 0;           // tokens generated per sentence; 0: 2 × source length + 10 (at most model.seq_len)
  int64_t batch_size = 64;       // sentences decoded together
  // Called after each batch with the sentences done so far and the total (progress display).
  std::function<void(int64_t done, int64_t total)> on_progress;
};

// sources: ids ending in eos (encode_sentence). Returns the output ids (no bos/eos).
std::vector<std::vector<int32_t>> translate_ids(Seq2SeqModel& model, const std::vector<std::vector<int32_t>>& sources,
                                                int32_t bos, int32_t eos, int32_t pad, const TranslateOptions& options);

// Lines in, detokenised lines out. Sources longer than model.seq_len are cut
// to it; `truncated` (if given) receives their line indices.
std::vector<std::string> translate_lines(Seq2SeqModel& model, const Tokenizer& tokenizer,
                                         const std::vector<std::string>& lines, const TranslateOptions& options,
                                         std::vector<int64_t>* truncated = nullptr);

}  // namespace tfm
