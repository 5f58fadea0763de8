#pragma once
// What a training config trains: its tokenizer, model and data, read from the
// files it names.
#include <memory>

#include "tools/data/lm_data.h"
#include "tools/text/tokenizer.h"
#include "tools/train/train_config.h"

namespace tfm {

// Reads and tokenizes the configured files. When `tokenizer` is null a new one
// is trained on the training text (config.tokenizer) and returned through it.
LmData load_lm_data(const DataConfig& data, const TokenizerConfig& tok_config, std::unique_ptr<Tokenizer>& tokenizer,
                    int64_t seq_len);

}  // namespace tfm
