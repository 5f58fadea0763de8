// models/beam: beam search against exhaustive search on a decoder whose
// log-probabilities are a fixed random table, the greedy special case, and
// length normalisation.
#include <cmath>
#include <functional>

#include "models/beam.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// log p(next | last token, step): a random table, normalised per (step, last).
class TableDecoder : public BeamDecoder {
 public:
  TableDecoder(int64_t vocab, int64_t steps, uint64_t seed) : V_(vocab), table_(random_tensor({steps, vocab, vocab}, seed, -3.0f, 3.0f)) {
    for (int64_t i = 0; i < steps * vocab; ++i) {
      float* row = table_.data() + i * vocab;
      double z = 0.0;
      for (int64_t v = 0; v < vocab; ++v) z += std::exp(row[v]);
      for (int64_t v = 0; v < vocab; ++v) row[v] -= static_cast<float>(std::log(z));
    }
  }
  Tensor step(const std::vector<int32_t>& last) override {
    Tensor out = Tensor::empty({static_cast<int64_t>(last.size()), V_});
    for (size_t r = 0; r < last.size(); ++r)
      std::copy_n(table_.data() + (t_ * V_ + last[r]) * V_, V_, out.data() + r * V_);
    ++t_;
    ++calls;
    return out;
  }
  void reorder(const std::vector<int64_t>&) override {}  // rows carry no state beyond their last token
  double log_prob(int64_t t, int32_t last, int32_t next) const { return table_.data()[(t * V_ + last) * V_ + next]; }
  int calls = 0;

 private:
  int64_t V_, t_ = 0;
  Tensor table_;
};

// Every sequence: ends with eos, or is cut at max_len.
Hypothesis exhaustive(const TableDecoder& d, int64_t V, const BeamOptions& o) {
  Hypothesis best;
  best.score = -INFINITY;
  std::function<void(std::vector<int32_t>&, double)> walk = [&](std::vector<int32_t>& toks, double lp) {
    const int64_t t = static_cast<int64_t>(toks.size());
    const int32_t last = toks.empty() ? o.bos : toks.back();
    for (int32_t v = 0; v < V; ++v) {
      const double l = lp + d.log_prob(t, last, v);
      if (v == o.eos || t + 1 == o.max_len) {
        std::vector<int32_t> fin = toks;
        if (v != o.eos) fin.push_back(v);
        const double s = l / std::pow(static_cast<double>(fin.size() + 1), o.length_penalty);
        if (s > best.score) best = {fin, l, s};
        continue;
      }
      toks.push_back(v);
      walk(toks, l);
      toks.pop_back();
    }
  };
  std::vector<int32_t> toks;
  walk(toks, 0.0);
  return best;
}

TEST(BeamSearch, AWideBeamFindsTheExhaustiveOptimum) {
  for (double alpha : {0.0, 0.6, 1.0})
    for (uint64_t seed : {1, 2, 3, 4}) {
      SCOPED_TRACE(::testing::Message() << "alpha " << alpha << " seed " << seed);
      BeamOptions o;
      o.beam = 4 * 4 * 4 * 4;
      o.length_penalty = alpha;
      o.max_len = 4;
      o.bos = 1, o.eos = 2;
      TableDecoder d(4, 4, seed);
      const Hypothesis want = exhaustive(d, 4, o);
      const std::vector<Hypothesis> got = beam_search(d, o);
      ASSERT_FALSE(got.empty());
      EXPECT_EQ(got[0].tokens, want.tokens);
      EXPECT_NEAR(got[0].score, want.score, 1e-9);
      for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].score, got[i].score);
    }
}

TEST(BeamSearch, BeamOneIsGreedyAndABeamNeverScoresWorse) {
  BeamOptions o;
  o.max_len = 6;
  o.length_penalty = 0.0;
  TableDecoder a(5, 6, 9), b(5, 6, 9);
  o.beam = 1;
  const Hypothesis greedy = beam_search(a, o).at(0);
  // Greedy by hand.
  std::vector<int32_t> toks;
  int32_t last = o.bos;
  for (int64_t t = 0; t < o.max_len; ++t) {
    int32_t best = 0;
    for (int32_t v = 1; v < 5; ++v)
      if (a.log_prob(t, last, v) > a.log_prob(t, last, best)) best = v;
    if (best == o.eos) break;
    toks.push_back(best);
    last = best;
  }
  EXPECT_EQ(greedy.tokens, toks);
  o.beam = 5;
  EXPECT_GE(beam_search(b, o).at(0).score, greedy.score - 1e-12);
}

TEST(BeamSearch, InvalidOptionsAreErrors) {
  TableDecoder d(3, 2, 1);
  BeamOptions o;
  o.beam = 0;
  EXPECT_CONTAINS(error_message([&] { beam_search(d, o); }), "beam >= 1");
}

}  // namespace
}  // namespace tfm
