// tools/lm_commands perplexity(): the scoring rule of lm_commands.h, checked
// window by window against an independent computation: each window run alone
// through the model, log-softmax in double, summed in text order. A shifted
// target, an overlapping or dropped window, a last window scored with the
// wrong length or batching that mixes windows all change the figure.
#include <cmath>
#include <vector>

#include "models/lm.h"
#include "tools/eval/lm_eval.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

std::unique_ptr<Model> random_lm(int64_t seq_len, int64_t vocab) {
  auto m = ModelRegistry::create({{"type", "lm"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 12}, {"d_ff", 20},
                                  {"seq_len", seq_len}, {"vocab_size", vocab}});
  Generator g(5);
  for (auto& [name, p] : m->named_parameters()) fill_uniform(p->mutable_data().data(), p->numel(), -1.0f, 1.0f, g);
  return m;
}

// The documented rule, one window at a time: starts 0, T, 2T, ...; inputs
// x[s .. e−1], targets x[s+1 .. e] with e = min(s+T, N−1).
struct Reference {
  double nll = 0.0;
  int64_t tokens = 0;
};
Reference reference_perplexity(LanguageModel& lm, const std::vector<int32_t>& x, int64_t T) {
  NoGradGuard no_grad;
  lm.eval();
  const int64_t N = static_cast<int64_t>(x.size());
  Reference r;
  for (int64_t s = 0; s < N - 1; s += T) {
    const int64_t e = std::min(s + T, N - 1), len = e - s;
    const std::vector<int32_t> in(x.begin() + s, x.begin() + e);
    const Variable logits = lm.forward(Tensor::from_ids({1, len}, in));
    const int64_t V = logits.shape().last();
    for (int64_t t = 0; t < len; ++t) {
      const float* row = logits.data().data() + t * V;
      double mx = row[0], z = 0.0;
      for (int64_t v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(row[v]));
      for (int64_t v = 0; v < V; ++v) z += std::exp(row[v] - mx);
      r.nll += mx + std::log(z) - row[x[s + t + 1]];
      ++r.tokens;
    }
  }
  r.nll /= static_cast<double>(r.tokens);
  return r;
}

TEST(Perplexity, ScoresEveryTokenButTheFirstOnceWithTheContextOfItsWindow) {
  constexpr int64_t T = 8, V = 13;
  auto model = random_lm(T, V);
  auto& lm = dynamic_cast<LanguageModel&>(*model);
  // 30 tokens: windows [0, 8), [8, 16), [16, 24) and a short one [24, 29).
  // 33 tokens: the last window is full ([24, 32)). 9: one full window, then one of length 0 is not made.
  for (int64_t N : {30, 33, 9, 2, 17}) {
    const Tensor ids = random_ids({N}, static_cast<int32_t>(V), 100 + N);
    const std::vector<int32_t> x(ids.data_i32(), ids.data_i32() + N);
    const Reference ref = reference_perplexity(lm, x, T);
    for (int64_t batch : {1, 2, 3, 64}) {
      SCOPED_TRACE(::testing::Message() << "N " << N << " batch " << batch);
      const PerplexityResult r = perplexity(lm, x, batch);
      EXPECT_EQ(r.tokens, N - 1);
      EXPECT_EQ(ref.tokens, N - 1);
      EXPECT_NEAR(r.nll, ref.nll, 2e-6 * ref.nll);
      EXPECT_NEAR(r.ppl, std::exp(ref.nll), 2e-6 * std::exp(ref.nll));
    }
  }
}

// Context matters: scoring the same tokens with a sliding context of T (each
// token seeing up to T − 1 predecessors) is a different figure, by far more
// than the 2e-6 relative tolerance above, so that test can tell the window
// rule from its neighbours.
TEST(Perplexity, WindowRuleIsDistinguishableFromOverlappingContexts) {
  constexpr int64_t T = 8, V = 13, N = 30;
  auto model = random_lm(T, V);
  auto& lm = dynamic_cast<LanguageModel&>(*model);
  const Tensor ids = random_ids({N}, static_cast<int32_t>(V), 7);
  const std::vector<int32_t> x(ids.data_i32(), ids.data_i32() + N);
  const Reference windows = reference_perplexity(lm, x, T);
  const Reference shorter = reference_perplexity(lm, x, T / 2);  // other window starts
  EXPECT_GT(std::fabs(windows.nll - shorter.nll), 100 * 2e-6 * windows.nll);
}

}  // namespace
}  // namespace tfm
