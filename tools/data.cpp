#include "tools/data.h"

#include <glob.h>

#include <filesystem>

#include "core/error.h"
#include "core/io.h"
#include "tools/train_config.h"

namespace tfm {

std::vector<std::string> expand_paths(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  for (const auto& p : patterns) {
    if (p.find_first_of("*?[") == std::string::npos) {
      std::error_code ec;
      TFM_CHECK(std::filesystem::exists(p, ec), "data file not found: ", p);
      TFM_CHECK(!std::filesystem::is_directory(p, ec), "data: ", p, " is a directory, expected a file (or a glob such as ",
                p, "/*.txt)");
      out.push_back(p);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(p.c_str(), 0, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; ++i)
        if (!std::filesystem::is_directory(g.gl_pathv[i])) matches.emplace_back(g.gl_pathv[i]);
    globfree(&g);
    TFM_CHECK(!matches.empty(), "data: no file matches ", p);
    out.insert(out.end(), matches.begin(), matches.end());
  }
  return out;
}

std::string read_texts(const std::vector<std::string>& paths, const std::string& what) {
  std::string text;
  for (const auto& path : paths) {
    std::string t = read_file(path);
    TFM_CHECK(!t.empty(), what, " file ", path, " is empty");
    text += t;
  }
  TFM_CHECK(!text.empty(), what, ": no text");
  return text;
}

LmData::LmData(std::vector<int32_t> train, std::vector<int32_t> val, int64_t seq_len)
    : train_(std::move(train)), val_(std::move(val)), seq_len_(seq_len) {
  TFM_CHECK(static_cast<int64_t>(train_.size()) > seq_len, "data: the training text has ", train_.size(),
            " tokens, fewer than one sequence of model.seq_len + 1 = ", seq_len + 1);
  TFM_CHECK(static_cast<int64_t>(val_.size()) > seq_len, "data: the validation text has ", val_.size(),
            " tokens, fewer than one sequence of model.seq_len + 1 = ", seq_len + 1,
            " (use more data, a larger data.val_fraction or a smaller seq_len)");
}

Batch LmData::sample(bool validation, int64_t B, Generator& gen) const {
  const std::vector<int32_t>& ids = validation ? val_ : train_;
  const int64_t T = seq_len_;
  const uint64_t positions = ids.size() - T;  // o in [0, N − T − 1]
  Batch batch;
  batch.input = Tensor::empty({B, T}, DType::I32);
  batch.target = Tensor::empty({B, T}, DType::I32);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t o = static_cast<int64_t>(gen.next_below(positions));
    std::copy(ids.begin() + o, ids.begin() + o + T, batch.input.data_i32() + b * T);
    std::copy(ids.begin() + o + 1, ids.begin() + o + T + 1, batch.target.data_i32() + b * T);
  }
  return batch;
}

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
