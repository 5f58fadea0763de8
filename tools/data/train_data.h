#pragma once
// What `tfm train` draws its batches from, whatever the data: random windows
// of a text (language models) or token-count batches of sentence pairs
// (encoder-decoders), each with a position the training state saves and the
// fixed validation batches; and the helpers that shard a batch between MPI
// ranks.
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "tools/data/lm_data.h"
#include "tools/data/parallel_data.h"

namespace tfm {

// The training stream and the fixed validation batches, whatever the data.
class TrainData {
 public:
  virtual ~TrainData() = default;
  virtual Batch next() = 0;                  // the next global batch (every rank draws the same)
  virtual uint64_t position() const = 0;     // saved in the train state
  virtual void seek(uint64_t position) = 0;  // back to a saved position
  virtual const std::vector<Batch>& validation() const = 0;
  virtual std::string describe() const = 0;
  // Passes over the training data so far, for the metrics; negative where the data has no
  // epochs (random windows).
  virtual double epoch() const { return -1.0; }
};

// Language modelling: random windows from a counter-based generator.
class LmTrainData : public TrainData {
 public:
  LmTrainData(LmData data, int64_t batch_size, uint64_t seed, int64_t eval_batches)
      : data_(std::move(data)), batch_size_(batch_size), gen_(seed, 0) {
    Generator val_gen(seed ^ 0x7a1ULL, 0);  // the same validation batches every time
    for (int64_t i = 0; i < eval_batches; ++i) val_.push_back(data_.sample(true, batch_size, val_gen));
  }
  Batch next() override { return data_.sample(false, batch_size_, gen_); }
  uint64_t position() const override { return gen_.offset(); }
  void seek(uint64_t position) override { gen_.set_state(gen_.seed(), position); }
  const std::vector<Batch>& validation() const override { return val_; }
  std::string describe() const override {
    return std::to_string(data_.train_tokens()) + " train / " + std::to_string(data_.val_tokens()) + " val tokens";
  }

 private:
  LmData data_;
  int64_t batch_size_;
  Generator gen_;
  std::vector<Batch> val_;
};

class ParallelTrainData : public TrainData {
 public:
  ParallelTrainData(ParallelData data, int64_t dropped, int64_t cut)
      : data_(std::move(data)), dropped_(dropped), cut_(cut) {}
  Batch next() override { return data_.next(); }
  uint64_t position() const override { return data_.position(); }
  void seek(uint64_t position) override { data_.seek(position); }
  const std::vector<Batch>& validation() const override { return data_.validation(); }
  const ParallelData& data() const { return data_; }
  // Epochs differ by a batch or two: the count is close, not exact.
  double epoch() const override {
    return static_cast<double>(data_.position()) / static_cast<double>(data_.batches_per_epoch());
  }
  std::string describe() const override {
    return std::to_string(data_.train_pairs()) + " train pairs (" + std::to_string(dropped_) +
           " longer than data.max_len dropped, " + std::to_string(data_.batches_per_epoch()) +
           " batches an epoch) / " + std::to_string(data_.val_pairs()) + " val pairs" +
           (cut_ > 0 ? " (" + std::to_string(cut_) + " cut to model.seq_len)" : std::string());
  }

 private:
  ParallelData data_;
  int64_t dropped_, cut_;
};

// Rows [first, last) of every tensor of a batch: views, no copies.
Batch slice_rows(Batch b, int64_t first, int64_t last);

}  // namespace tfm
