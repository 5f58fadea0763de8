#include "tools/train/evaluator.h"

#include <algorithm>

#include "autograd/variable.h"
#include "core/error.h"
#include "core/precision.h"
#include "tools/eval/translate.h"
#include "tools/train/distributed.h"

namespace tfm {

double LossEvaluator::evaluate(Model& model, const std::vector<Batch>& batches, const Sharder& sharder) const {
  NoGradGuard no_grad;
  Bf16WeightCache bf16_weights;  // the weights do not change during an evaluation
  model.eval();
  double sums[2] = {0.0, 0.0};  // loss × tokens, tokens
  for (const Batch& b : batches) {
    const Shard s = sharder.shard(b);
    if (s.tokens == 0) continue;
    sums[0] += model.loss(s.batch).item() * static_cast<double>(s.tokens);
    sums[1] += static_cast<double>(s.tokens);
  }
  dist::allreduce_sum(sums, 2);
  model.train();
  return sums[0] / sums[1];
}

BleuEvaluator::BleuEvaluator(std::vector<std::string> sources, std::vector<std::string> references,
                             int64_t max_sentences)
    : sources_(std::move(sources)), references_(std::move(references)) {
  TFM_CHECK(sources_.size() == references_.size(), "BleuEvaluator: ", sources_.size(), " sources but ",
            references_.size(), " references");
  if (max_sentences > 0 && static_cast<size_t>(max_sentences) < sources_.size()) {
    sources_.resize(static_cast<size_t>(max_sentences));
    references_.resize(static_cast<size_t>(max_sentences));
  }
}

BleuScore BleuEvaluator::evaluate(Seq2SeqModel& model, const Tokenizer& tokenizer, const Sharder& sharder) const {
  Bf16WeightCache bf16_weights;
  std::vector<std::string> mine, refs;
  for (size_t i = static_cast<size_t>(sharder.rank()); i < sources_.size(); i += static_cast<size_t>(sharder.ranks())) {
    mine.push_back(sources_[i]);
    refs.push_back(references_[i]);
  }
  TranslateOptions options;
  options.batch_size = 100;
  const std::vector<std::string> hyps = translate_lines(model, tokenizer, mine, options);
  BleuStats stats;
  for (size_t i = 0; i < hyps.size(); ++i) {
    std::string h = hyps[i];
    while (!h.empty() && h.back() == '\n') h.pop_back();
    stats.add(h, {refs[i]});
  }
  double counts[10];
  for (int k = 0; k < 4; ++k)
    counts[k] = static_cast<double>(stats.correct[k]), counts[4 + k] = static_cast<double>(stats.total[k]);
  counts[8] = static_cast<double>(stats.hyp_len);
  counts[9] = static_cast<double>(stats.ref_len);
  dist::allreduce_sum(counts, 10);
  for (int k = 0; k < 4; ++k)
    stats.correct[k] = static_cast<int64_t>(counts[k]), stats.total[k] = static_cast<int64_t>(counts[4 + k]);
  stats.hyp_len = static_cast<int64_t>(counts[8]);
  stats.ref_len = static_cast<int64_t>(counts[9]);
  return bleu_from_stats(stats);
}

}  // namespace tfm
