#pragma once
// Text data for language modelling: token ids (in memory, or a prepared token
// file mapped read-only: tools/data/token_cache.h) split into train/validation
// ids, and batches of random windows (as nanoGPT) drawn from a counter-based
// generator, so the data position is just the generator's (seed, offset).
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/model.h"
#include "tools/data/token_file.h"
#include "tools/text/tokenizer.h"

namespace tfm {

// A run of token ids: a vector held in memory, or a range of a mapped token file. Copies share
// the ids.
class TokenSequence {
 public:
  TokenSequence() = default;
  explicit TokenSequence(std::vector<int32_t> ids);
  explicit TokenSequence(std::shared_ptr<const TokenFile> file);
  int64_t size() const { return size_; }
  // ids [first, first + n) into out.
  void copy(int64_t first, int64_t n, int32_t* out) const;
  // ids [first, last), sharing these.
  TokenSequence slice(int64_t first, int64_t last) const;
  std::vector<int32_t> to_vector() const;

 private:
  std::shared_ptr<const std::vector<int32_t>> ids_;
  std::shared_ptr<const TokenFile> file_;
  int64_t first_ = 0, size_ = 0;
};

class LmData {
 public:
  LmData(TokenSequence train, TokenSequence val, int64_t seq_len);
  LmData(std::vector<int32_t> train, std::vector<int32_t> val, int64_t seq_len)
      : LmData(TokenSequence(std::move(train)), TokenSequence(std::move(val)), seq_len) {}
  // Random windows: input ids[o, o+T), target ids[o+1, o+T+1).
  Batch sample(bool validation, int64_t batch_size, Generator& gen) const;
  int64_t train_tokens() const { return train_.size(); }
  int64_t val_tokens() const { return val_.size(); }
  const TokenSequence& train() const { return train_; }
  const TokenSequence& val() const { return val_; }

 private:
  TokenSequence train_, val_;
  int64_t seq_len_;
};

}  // namespace tfm
