#pragma once
// Text data for language modelling: files (or globs) read, tokenized, split
// into train/validation ids, and batches of random windows (as nanoGPT)
// drawn from a counter-based generator, so the data position is just the
// generator's (seed, offset).
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/model.h"
#include "tools/text/tokenizer.h"

namespace tfm {

class LmData {
 public:
  LmData(std::vector<int32_t> train, std::vector<int32_t> val, int64_t seq_len);
  // Random windows: input ids[o, o+T), target ids[o+1, o+T+1).
  Batch sample(bool validation, int64_t batch_size, Generator& gen) const;
  int64_t train_tokens() const { return static_cast<int64_t>(train_.size()); }
  int64_t val_tokens() const { return static_cast<int64_t>(val_.size()); }

 private:
  std::vector<int32_t> train_, val_;
  int64_t seq_len_;
};

}  // namespace tfm
