#include "tools/data/parallel_data.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/io.h"
#include "core/rng.h"

namespace tfm {

std::vector<int32_t> encode_sentence(const Tokenizer& tokenizer, const std::string& line) {
  std::vector<int32_t> ids = tokenizer.encode(line);
  ids.push_back(tokenizer.eos_id());
  return ids;
}

Batch make_batch(const std::vector<const SentencePair*>& pairs, int32_t bos, int32_t eos, int32_t pad,
                 int32_t ignore_index) {
  TFM_CHECK(!pairs.empty(), "make_batch: no pairs");
  const int64_t n = static_cast<int64_t>(pairs.size());
  int64_t S = 1, T = 1;
  for (const SentencePair* p : pairs) {
    S = std::max<int64_t>(S, static_cast<int64_t>(p->source.size()));
    T = std::max<int64_t>(T, static_cast<int64_t>(p->target.size()) + 1);
  }
  Batch b;
  b.source = Tensor::empty({n, S}, DType::I32);
  b.source_padding = Tensor::empty({n, S}, DType::I32);
  b.input = Tensor::empty({n, T}, DType::I32);
  b.target = Tensor::empty({n, T}, DType::I32);
  for (int64_t r = 0; r < n; ++r) {
    const SentencePair& p = *pairs[r];
    int32_t* src = b.source.data_i32() + r * S;
    int32_t* mask = b.source_padding.data_i32() + r * S;
    for (int64_t s = 0; s < S; ++s) {
      const bool real = s < static_cast<int64_t>(p.source.size());
      src[s] = real ? p.source[s] : pad;
      mask[s] = real ? 0 : 1;
    }
    int32_t* in = b.input.data_i32() + r * T;
    int32_t* out = b.target.data_i32() + r * T;
    const int64_t len = static_cast<int64_t>(p.target.size());
    for (int64_t t = 0; t < T; ++t) {
      in[t] = t == 0 ? bos : (t <= len ? p.target[t - 1] : pad);
      out[t] = t < len ? p.target[t] : (t == len ? eos : ignore_index);
    }
  }
  return b;
}

int64_t batch_target_tokens(const Batch& batch, int32_t ignore_index) {
  const int32_t* t = batch.target.data_i32();
  int64_t n = 0;
  for (int64_t i = 0; i < batch.target.numel(); ++i) n += t[i] != ignore_index;
  return n;
}

namespace {
int64_t padded_len(const SentencePair& p) {
  return std::max<int64_t>(static_cast<int64_t>(p.source.size()), static_cast<int64_t>(p.target.size()) + 1);
}
}  // namespace

ParallelData::ParallelData(std::vector<SentencePair> train, std::vector<SentencePair> val,
                           const ParallelBatching& batching, int32_t bos, int32_t eos, int32_t pad)
    : train_(std::move(train)), val_(std::move(val)), batching_(batching), bos_(bos), eos_(eos), pad_(pad) {
  TFM_CHECK(!train_.empty(), "data: no training pairs (all longer than data.max_len?)");
  TFM_CHECK(!val_.empty(), "data: no validation pairs");
  TFM_CHECK(batching_.batch_tokens > 0 || batching_.batch_size > 0, "data: set train.batch_tokens or train.batch_size");
  TFM_CHECK(batching_.sort_pool >= 1, "data.sort_pool must be >= 1");
  if (batching_.batch_tokens > 0) {
    int64_t longest = 0;
    for (const auto& p : train_) longest = std::max(longest, padded_len(p));
    TFM_CHECK(longest <= batching_.batch_tokens, "config: train.batch_tokens = ", batching_.batch_tokens,
              " cannot hold the longest training pair (", longest, " tokens); raise it or lower data.max_len");
  }
  // Validation: sorted by length (least padding), same budget; fixed for the whole run.
  std::vector<int64_t> order(val_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return padded_len(val_[a]) < padded_len(val_[b]); });
  for (const auto& rows : cut(order, val_)) {
    std::vector<const SentencePair*> ptrs;
    for (int64_t i : rows) ptrs.push_back(&val_[i]);
    val_batches_.push_back(make_batch(ptrs, bos_, eos_, pad_));
  }
  epoch_batches_ = layout(0);
}

std::vector<std::vector<int64_t>> ParallelData::cut(const std::vector<int64_t>& order,
                                                    const std::vector<SentencePair>& pairs) const {
  std::vector<std::vector<int64_t>> batches;
  std::vector<int64_t> cur;
  int64_t longest = 0;
  for (int64_t i : order) {
    const int64_t len = padded_len(pairs[i]);
    const bool full = batching_.batch_tokens > 0
                          ? std::max(longest, len) * static_cast<int64_t>(cur.size() + 1) > batching_.batch_tokens
                          : static_cast<int64_t>(cur.size()) >= batching_.batch_size;
    if (!cur.empty() && full) {
      batches.push_back(std::move(cur));
      cur.clear();
      longest = 0;
    }
    cur.push_back(i);
    longest = std::max(longest, len);
  }
  if (!cur.empty()) batches.push_back(std::move(cur));
  return batches;
}

std::vector<std::vector<int64_t>> ParallelData::layout(int64_t epoch) const {
  Generator gen(batching_.seed ^ 0xba7c4e5ULL, static_cast<uint64_t>(epoch) << 32);
  std::vector<int64_t> order(train_.size());
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.next_below(i)]);
  std::vector<std::vector<int64_t>> batches;
  const size_t pool = static_cast<size_t>(batching_.sort_pool);
  for (size_t start = 0; start < order.size(); start += pool) {
    std::vector<int64_t> chunk(order.begin() + start, order.begin() + std::min(order.size(), start + pool));
    std::stable_sort(chunk.begin(), chunk.end(), [&](int64_t a, int64_t b) {
      const int64_t la = padded_len(train_[a]), lb = padded_len(train_[b]);
      return la != lb ? la < lb : train_[a].source.size() < train_[b].source.size();
    });
    for (auto& b : cut(chunk, train_)) batches.push_back(std::move(b));
  }
  for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[gen.next_below(i)]);
  return batches;
}

Batch ParallelData::next() {
  if (index_ == epoch_batches_.size()) {
    ++epoch_;
    epoch_batches_ = layout(epoch_);
    index_ = 0;
  }
  std::vector<const SentencePair*> ptrs;
  for (int64_t i : epoch_batches_[index_]) ptrs.push_back(&train_[i]);
  ++index_;
  ++position_;
  return make_batch(ptrs, bos_, eos_, pad_);
}

void ParallelData::seek(uint64_t position) {
  epoch_ = 0;
  epoch_batches_ = layout(0);
  uint64_t left = position;
  while (left >= epoch_batches_.size()) {
    left -= epoch_batches_.size();
    epoch_batches_ = layout(++epoch_);
  }
  index_ = static_cast<size_t>(left);
  position_ = position;
}

}  // namespace tfm
