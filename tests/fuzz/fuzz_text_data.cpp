// The language-model text reader as `tfm train` uses it: load_lm_data (prepared
// token files, tools/data/token_cache.h) on the
// input as a training file (and, after the first NUL byte, a validation file),
// with a byte, char or word tokenizer trained on it, then batches of random
// windows. Parameters come off the front: tokenizer type, seq_len, the held-out
// fraction, batch size. Every batch must be [B, seq_len] of ids inside the
// vocabulary, the target the input shifted by one.
#include <filesystem>

#include "fuzz.h"
#include "tools/data/lm_data.h"
#include "tools/train/task.h"
#include "tools/train/train_config.h"
#include "tools/data/train_data.h"

namespace tfm::fuzz {

void text_data(std::string_view input) {
  Params params(input);
  TokenizerConfig tok_config;
  const uint8_t kind = params.byte();
  tok_config.type = kind % 3 == 0 ? "byte" : kind % 3 == 1 ? "char" : "word";
  tok_config.vocab_size = (kind >> 2) % 8;  // word: 0 keeps every word
  const int64_t seq_len = 1 + params.byte() % 16;
  const int64_t batch_size = 1 + params.byte() % 4;
  const double held_out = 0.05 + 0.45 * (params.byte() / 255.0);
  DataConfig data;
  const auto [train_text, val_text] = split_once(params.rest(), std::string_view("\0", 1));
  data.train = {scratch_file("train.txt", train_text)};
  if (!val_text.empty()) data.val = {scratch_file("val.txt", val_text)};
  data.val_fraction = data.val.empty() ? held_out : 0.0;
  // Prepared token files beside the scratch files: each input rewrites them, which the manifest sees.
  data.cache_dir = std::filesystem::path(data.train[0]).parent_path().string() + "/token-cache";
  std::unique_ptr<Tokenizer> tokenizer;
  LmData lm = load_lm_data(data, tok_config, tokenizer, seq_len);
  TFM_FUZZ_EXPECT(tokenizer != nullptr, "load_lm_data trained no tokenizer");
  const int64_t vocab = tokenizer->vocab_size();
  LmTrainData stream(std::move(lm), batch_size, 1234, 2);
  std::vector<Batch> batches = stream.validation();
  for (int i = 0; i < 3; ++i) batches.push_back(stream.next());
  for (const Batch& b : batches) {
    TFM_FUZZ_EXPECT(b.input.shape() == Shape({batch_size, seq_len}) && b.target.shape() == b.input.shape(),
                    "batch shape ", b.input.shape(), ", expected [", batch_size, ", ", seq_len, "]");
    const int32_t* in = b.input.data_i32();
    const int32_t* out = b.target.data_i32();
    for (int64_t r = 0; r < batch_size; ++r)
      for (int64_t t = 0; t < seq_len; ++t) {
        const int32_t x = in[r * seq_len + t], y = out[r * seq_len + t];
        TFM_FUZZ_EXPECT(x >= 0 && x < vocab && y >= 0 && y < vocab, "id outside the vocabulary of ", vocab);
        if (t + 1 < seq_len) TFM_FUZZ_EXPECT(in[r * seq_len + t + 1] == y, "the target is not the input shifted by one");
      }
  }
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::text_data)
