#include "tools/data/lm_data.h"

#include "core/error.h"
#include "core/io.h"
#include "tools/text/text_files.h"

namespace tfm {

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

}  // namespace tfm
