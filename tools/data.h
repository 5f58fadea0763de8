#pragma once
// Text data for language modelling: files (or globs) read, tokenized, split
// into train/validation ids, and batches of random windows (as nanoGPT)
// drawn from a counter-based generator, so the data position is just the
// generator's (seed, offset).
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/model.h"
#include "tools/tokenizer.h"

namespace tfm {

// Expands globs (sorted matches); throws naming the pattern when nothing
// matches, a file is missing or a directory.
std::vector<std::string> expand_paths(const std::vector<std::string>& patterns);
// Concatenated contents; throws on an empty result.
std::string read_texts(const std::vector<std::string>& paths, const std::string& what);

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

struct DataConfig;
// Reads and tokenizes the configured files. When `tokenizer` is null a new one
// is trained on the training text (config.tokenizer) and returned through it.
LmData load_lm_data(const DataConfig& data, const TokenizerConfig& tok_config, std::unique_ptr<Tokenizer>& tokenizer,
                    int64_t seq_len);

}  // namespace tfm
