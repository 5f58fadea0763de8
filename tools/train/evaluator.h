#pragma once
// What the trainer measures at each evaluation, agreed over the MPI ranks.
#include <string>
#include <vector>

#include "models/model.h"
#include "models/seq2seq.h"
#include "tools/text/bleu.h"
#include "tools/text/tokenizer.h"
#include "tools/train/sharder.h"

namespace tfm {

// The per-token mean loss over fixed validation batches (each rank scores its rows;
// no dropout, no gradient; the model is left in training mode).
class LossEvaluator {
 public:
  double evaluate(Model& model, const std::vector<Batch>& batches, const Sharder& sharder) const;
};

// Corpus BLEU (sacreBLEU's default) of greedy translations of validation sources against
// their references: each rank decodes every N-th sentence and the n-gram counts add up.
class BleuEvaluator {
 public:
  // max_sentences 0: all of them.
  BleuEvaluator(std::vector<std::string> sources, std::vector<std::string> references, int64_t max_sentences);
  BleuScore evaluate(Seq2SeqModel& model, const Tokenizer& tokenizer, const Sharder& sharder) const;
  size_t sentences() const { return sources_.size(); }

 private:
  std::vector<std::string> sources_, references_;
};

}  // namespace tfm
