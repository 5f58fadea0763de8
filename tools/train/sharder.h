#pragma once
// Data parallelism's bookkeeping (mpirun -np N): every rank draws the same
// global batch and trains on its own rows of it. Scaling each rank's mean loss
// by N × its share of the batch's target tokens makes the average over the
// ranks the global per-token mean, however the tokens fall (parallel data has
// rows of unequal length).
#include <cstdint>

#include "models/model.h"

namespace tfm {

struct Shard {
  Batch batch;                  // this rank's rows: views, no copies
  int64_t tokens = 0;           // its target tokens
  int64_t global_tokens = 0;    // the whole batch's
};

class Sharder {
 public:
  Sharder(int rank, int n_ranks);
  int rank() const { return rank_; }
  int ranks() const { return n_ranks_; }
  // Rows [B·r/N, B·(r+1)/N) of the batch. With fewer rows than ranks (a short batch of long
  // sentences) a rank left without rows runs a copy of one row with weight 0, so that it still
  // takes part in the gradient reduction and adds nothing to it.
  Shard shard(const Batch& batch) const;
  // N × tokens / global_tokens (0 for an empty batch).
  float loss_weight(const Shard& shard) const;

 private:
  int rank_, n_ranks_;
};

// train.batch_size is the global batch: it must divide by the ranks (tfm::Error otherwise).
void check_global_batch(int64_t batch_size, int n_ranks);

}  // namespace tfm
