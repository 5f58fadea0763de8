#pragma once
// Parallel data for encoder-decoder models: source and target files read line
// by line (line i of one aligned with line i of the other), encoded with one
// joint tokenizer, and cut into token-count batches. Each epoch shuffles the
// pairs (seeded by the epoch), sorts them by length within pools of
// `sort_pool` pairs, cuts each pool into batches of at most `batch_tokens`
// padded tokens (rows × the longer side, as fairseq's --max-tokens counts
// them) and shuffles the batches. The position in the stream is the number of
// batches drawn: seek() replays the epochs' layouts, so a resumed run sees the
// batches the uninterrupted one would have.
#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"
#include "tools/text/tokenizer.h"

namespace tfm {

// Ids of one sentence as the models see it: its tokens, then eos.
std::vector<int32_t> encode_sentence(const Tokenizer& tokenizer, const std::string& line);

struct SentencePair {
  std::vector<int32_t> source, target;  // target without bos/eos; source ends with eos
};

// One batch from pairs: source [n, S] (pad-filled) with source_padding [n, S]
// (1 = pad), decoder input bos + target [n, T] (pad-filled) and target
// target + eos [n, T] (ignore_index where padded).
Batch make_batch(const std::vector<const SentencePair*>& pairs, int32_t bos, int32_t eos, int32_t pad,
                 int32_t ignore_index = -100);
// Target tokens of a batch that count towards the loss (target != ignore_index).
int64_t batch_target_tokens(const Batch& batch, int32_t ignore_index = -100);

struct ParallelBatching {
  int64_t batch_tokens = 0;  // padded tokens per batch; 0: batch_size sentences
  int64_t batch_size = 0;
  int64_t sort_pool = 16384;
  uint64_t seed = 0;  // the layouts depend on nothing else (not on the number of MPI ranks)
};

class ParallelData {
 public:
  ParallelData(std::vector<SentencePair> train, std::vector<SentencePair> val, const ParallelBatching& batching,
               int32_t bos, int32_t eos, int32_t pad);
  Batch next();  // the next training batch
  uint64_t position() const { return position_; }
  void seek(uint64_t position);
  // Validation: every pair once, sorted by length, in batches of the same budget.
  const std::vector<Batch>& validation() const { return val_batches_; }
  int64_t train_pairs() const { return static_cast<int64_t>(train_.size()); }
  int64_t val_pairs() const { return static_cast<int64_t>(val_.size()); }
  int64_t batches_per_epoch() const { return static_cast<int64_t>(epoch_batches_.size()); }
  int64_t epoch() const { return epoch_; }
  // The batches (pair indices) of epoch e: deterministic from the seed.
  std::vector<std::vector<int64_t>> layout(int64_t epoch) const;

 private:
  std::vector<std::vector<int64_t>> cut(const std::vector<int64_t>& order, const std::vector<SentencePair>& pairs) const;
  std::vector<SentencePair> train_, val_;
  ParallelBatching batching_;
  int32_t bos_, eos_, pad_;
  std::vector<Batch> val_batches_;
  uint64_t position_ = 0;
  int64_t epoch_ = 0;
  size_t index_ = 0;  // within epoch_batches_
  std::vector<std::vector<int64_t>> epoch_batches_;
};

}  // namespace tfm
