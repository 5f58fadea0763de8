#include "tools/train/task.h"

#include "core/error.h"
#include "tools/text/text_files.h"

namespace tfm {

LmData load_lm_data(const DataConfig& data, const TokenizerConfig& tok_config, std::unique_ptr<Tokenizer>& tokenizer,
                    int64_t seq_len) {
  const std::string train_text = read_texts(expand_paths(data.train), "data.train");
  std::string val_text;
  if (!data.val.empty()) val_text = read_texts(expand_paths(data.val), "data.val");
  if (!tokenizer) tokenizer = Tokenizer::train(tok_config, train_text);
  std::vector<int32_t> train_ids = tokenizer->encode(train_text), val_ids;
  if (!data.val.empty()) {
    val_ids = tokenizer->encode(val_text);
  } else {
    // Hold out the end of the training text (nanoGPT: first 90% train, last 10% val).
    const size_t n_train = static_cast<size_t>(static_cast<double>(train_ids.size()) * (1.0 - data.val_fraction));
    val_ids.assign(train_ids.begin() + n_train, train_ids.end());
    train_ids.resize(n_train);
  }
  return LmData(std::move(train_ids), std::move(val_ids), seq_len);
}

}  // namespace tfm
