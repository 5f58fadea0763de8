#include "tools/data/lm_data.h"

#include <algorithm>

#include "core/error.h"

namespace tfm {

TokenSequence::TokenSequence(std::vector<int32_t> ids)
    : ids_(std::make_shared<const std::vector<int32_t>>(std::move(ids))), size_(static_cast<int64_t>(ids_->size())) {}

TokenSequence::TokenSequence(std::shared_ptr<const TokenFile> file) : file_(std::move(file)), size_(file_->size()) {}

void TokenSequence::copy(int64_t first, int64_t n, int32_t* out) const {
  TFM_DCHECK(first >= 0 && n >= 0 && first + n <= size_, "token range [", first, ", ", first + n, ") outside ", size_);
  if (file_) file_->copy(first_ + first, n, out);
  else std::copy(ids_->begin() + first_ + first, ids_->begin() + first_ + first + n, out);
}

TokenSequence TokenSequence::slice(int64_t first, int64_t last) const {
  TFM_CHECK(0 <= first && first <= last && last <= size_, "token range [", first, ", ", last, ") outside [0, ", size_,
            ")");
  TokenSequence s = *this;
  s.first_ = first_ + first;
  s.size_ = last - first;
  return s;
}

std::vector<int32_t> TokenSequence::to_vector() const {
  std::vector<int32_t> out(static_cast<size_t>(size_));
  copy(0, size_, out.data());
  return out;
}

LmData::LmData(TokenSequence train, TokenSequence val, int64_t seq_len)
    : train_(std::move(train)), val_(std::move(val)), seq_len_(seq_len) {
  TFM_CHECK(train_.size() > seq_len, "data: the training text has ", train_.size(),
            " tokens, fewer than one sequence of model.seq_len + 1 = ", seq_len + 1);
  TFM_CHECK(val_.size() > seq_len, "data: the validation text has ", val_.size(),
            " tokens, fewer than one sequence of model.seq_len + 1 = ", seq_len + 1,
            " (use more data, a larger data.val_fraction or a smaller seq_len)");
}

Batch LmData::sample(bool validation, int64_t B, Generator& gen) const {
  const TokenSequence& ids = validation ? val_ : train_;
  const int64_t T = seq_len_;
  const auto positions = static_cast<uint64_t>(ids.size() - T);  // o in [0, N − T − 1]
  Batch batch;
  batch.input = Tensor::empty({B, T}, DType::I32);
  batch.target = Tensor::empty({B, T}, DType::I32);
  for (int64_t b = 0; b < B; ++b) {
    const auto o = static_cast<int64_t>(gen.next_below(positions));
    ids.copy(o, T, batch.input.data_i32() + b * T);
    ids.copy(o + 1, T, batch.target.data_i32() + b * T);
  }
  return batch;
}

}  // namespace tfm
