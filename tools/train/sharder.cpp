#include "tools/train/sharder.h"

#include <algorithm>

#include "core/error.h"
#include "tools/data/parallel_data.h"
#include "tools/data/train_data.h"

namespace tfm {

Sharder::Sharder(int rank, int n_ranks) : rank_(rank), n_ranks_(n_ranks) {
  TFM_CHECK(n_ranks >= 1 && rank >= 0 && rank < n_ranks, "Sharder: rank ", rank, " of ", n_ranks,
            " ranks is out of range");
}

Shard Sharder::shard(const Batch& b) const {
  Shard s;
  s.global_tokens = batch_target_tokens(b);
  if (n_ranks_ == 1) {
    s.batch = b;
    s.tokens = s.global_tokens;
    return s;
  }
  const int64_t rows = b.batch_size(), first = rows * rank_ / n_ranks_, last = rows * (rank_ + 1) / n_ranks_;
  if (first == last) {
    const int64_t row = std::min(first, rows - 1);
    s.batch = slice_rows(b, row, row + 1);
    s.tokens = 0;
    return s;
  }
  s.batch = slice_rows(b, first, last);
  s.tokens = batch_target_tokens(s.batch);
  return s;
}

float Sharder::loss_weight(const Shard& s) const {
  if (s.global_tokens <= 0) return 0.0f;
  return static_cast<float>(static_cast<double>(n_ranks_) * static_cast<double>(s.tokens) /
                            static_cast<double>(s.global_tokens));
}

void check_global_batch(int64_t batch_size, int n_ranks) {
  TFM_CHECK(batch_size % n_ranks == 0, "config: train.batch_size = ", batch_size,
            " is the global batch and must divide by the ", n_ranks, " MPI ranks");
}

}  // namespace tfm
