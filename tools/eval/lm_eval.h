#pragma once
// Evaluation and generation over a checkpoint: perplexity, sampling, inspection.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "models/checkpoint.h"
#include "models/lm.h"
#include "tools/eval/loaded_model.h"
#include "tools/text/tokenizer.h"

namespace tfm {

struct PerplexityResult {
  double nll = 0.0;  // mean per-token negative log-likelihood, nats
  double ppl = 0.0;
  int64_t tokens = 0;
};

// Scoring rule: ids x[0..N−1]; windows start at s = 0, T, 2T, … (T = seq_len),
// each an independent context with inputs x[s … min(s+T, N−1)−1] and targets
// x[s+1 … min(s+T, N−1)]: every token but the first is scored exactly once.
PerplexityResult perplexity(LanguageModel& model, const std::vector<int32_t>& ids, int64_t batch_size);

struct SamplingOptions {
  int64_t tokens = 200;
  double temperature = 1.0;  // 0: greedy
  int64_t top_k = 0;         // 0: off
  double top_p = 1.0;        // 1: off
  uint64_t seed = 1337;
};

// Generates after the prompt ids; calls on_token for each new id (streaming).
// Each token: q_j ∝ exp(logit_j / temperature), tokens ranked by q (ties: the
// lower id first); top_k keeps the k first; top_p then keeps the shortest
// prefix of those whose mass, as a fraction of the whole distribution,
// reaches (≥) top_p (so with both, the kept set is the intersection of the two
// filters); one token is drawn from the kept ones, renormalised.
std::vector<int32_t> generate(LanguageModel& model, const std::vector<int32_t>& prompt, const SamplingOptions& opts,
                              const std::function<void(int32_t)>& on_token);

// Model config, tokenizer, parameter count per module and the tensor list.
void inspect_checkpoint(const std::string& path, std::ostream& out);

// Loads a checkpoint that must hold a decoder-only LM.
using LoadedLm = LoadedAs<LanguageModel>;
LoadedLm load_lm(const std::string& path);

}  // namespace tfm
