// models/beam: beam search against exhaustive search on a decoder whose
// log-probabilities are a fixed random table, the greedy special case, and
// length normalisation.
#include <cmath>
#include <functional>
#include <map>
#include <utility>
#include <vector>

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

// log p(next | step, last) from an explicit table of probabilities; rows not listed put 0.97 on eos.
class ExplicitDecoder : public BeamDecoder {
 public:
  using Row = std::vector<float>;  // probabilities over the vocabulary (ids 0 … 3: 0, bos 1, eos 2, 3)
  explicit ExplicitDecoder(std::map<std::pair<int64_t, int32_t>, Row> rows) {
    for (auto& [key, row] : rows) {
      Row lp;
      for (float p : row) lp.push_back(std::log(p));
      log_probs_[key] = lp;
    }
  }
  Tensor step(const std::vector<int32_t>& last) override {
    Tensor out = Tensor::empty({static_cast<int64_t>(last.size()), 4});
    for (size_t r = 0; r < last.size(); ++r)
      for (int32_t v = 0; v < 4; ++v) out.data()[r * 4 + v] = log_prob(t_, last[r], v);
    ++t_;
    return out;
  }
  void reorder(const std::vector<int64_t>&) override {}
  // The float the decoder returns, as a double: references sum these.
  double log_prob(int64_t t, int32_t last, int32_t next) const {
    auto it = log_probs_.find({t, last});
    return it != log_probs_.end() ? it->second[next] : std::log(next == 2 ? 0.97f : 0.01f);
  }

 private:
  std::map<std::pair<int64_t, int32_t>, Row> log_probs_;
  int64_t t_ = 0;
};

// Length normalisation as documented (models/beam.h, docs/translation.md): a finished hypothesis scores
// log p / length^alpha, the length counting the end token. Here the empty hypothesis (eos at once, p 0.45,
// length 1) has the better raw log-probability and "3 3" (0.5 · 0.9 · 0.9, length 3) the better normalised
// score, so alpha decides which one wins; each score is checked against the formula.
TEST(BeamSearch, LengthNormalisationDecidesBetweenAShortAndALongHypothesis) {
  const std::map<std::pair<int64_t, int32_t>, ExplicitDecoder::Row> rows = {
      {{0, 1}, {0.03f, 0.02f, 0.45f, 0.5f}},  // from bos
      {{1, 3}, {0.04f, 0.02f, 0.04f, 0.9f}},
      {{2, 3}, {0.03f, 0.02f, 0.9f, 0.05f}}};
  const ExplicitDecoder table(rows);
  const double short_lp = table.log_prob(0, 1, 2);
  const double long_lp = table.log_prob(0, 1, 3) + table.log_prob(1, 3, 3) + table.log_prob(2, 3, 2);
  ASSERT_GT(short_lp, long_lp);              // design: raw log-probability prefers the short one
  ASSERT_GT(long_lp / 3.0, short_lp / 1.0);  // and length-normalised (alpha 1) the long one
  for (double alpha : {0.0, 0.6, 1.0}) {
    SCOPED_TRACE(::testing::Message() << "alpha " << alpha);
    ExplicitDecoder d(rows);
    BeamOptions o;
    o.beam = 2;
    o.max_len = 4;
    o.length_penalty = alpha;
    const std::vector<Hypothesis> got = beam_search(d, o);
    ASSERT_GE(got.size(), 2u);
    const bool long_wins = long_lp / std::pow(3.0, alpha) > short_lp;
    EXPECT_EQ(long_wins, alpha > 0);
    EXPECT_EQ(got[0].tokens, long_wins ? std::vector<int32_t>({3, 3}) : std::vector<int32_t>{});
    EXPECT_NEAR(got[0].log_prob, long_wins ? long_lp : short_lp, 1e-12);
    EXPECT_NEAR(got[0].score, long_wins ? long_lp / std::pow(3.0, alpha) : short_lp, 1e-12);
    // The runner-up is the other one, with its own normalised score.
    EXPECT_EQ(got[1].tokens, long_wins ? std::vector<int32_t>{} : std::vector<int32_t>({3, 3}));
    EXPECT_NEAR(got[1].score, long_wins ? short_lp : long_lp / std::pow(3.0, alpha), 1e-12);
  }
}

// The search stops early only when no live hypothesis can still win; a hypothesis cut at max_len scores as if
// its end token followed (length tokens + 1, models/beam.h), so the bound must allow for that length. Here the
// live "3" (log p −1.2) ends, cut at max_len 2, as "3 0" with log p ≈ −1.22 over length 3: −0.41, better than
// the finished empty hypothesis's −0.5, so it must not be pruned after the first step.
TEST(BeamSearch, EarlyStopNeverPrunesACutHypothesisThatWouldWin) {
  const std::map<std::pair<int64_t, int32_t>, ExplicitDecoder::Row> rows = {
      {{0, 1}, {0.05f, 0.042f, std::exp(-0.5f), std::exp(-1.2f)}}, {{1, 3}, {0.98f, 0.005f, 0.01f, 0.005f}}};
  ExplicitDecoder d(rows);
  BeamOptions o;
  o.beam = 1;
  o.max_len = 2;
  o.length_penalty = 1.0;
  const double cut_lp = d.log_prob(0, 1, 3) + d.log_prob(1, 3, 0);
  ASSERT_GT(cut_lp / 3.0, d.log_prob(0, 1, 2));  // design: the cut hypothesis is the best one
  const std::vector<Hypothesis> got = beam_search(d, o);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0].tokens, std::vector<int32_t>({3, 0}));
  EXPECT_NEAR(got[0].score, cut_lp / 3.0, 1e-12);
}

TEST(BeamSearch, InvalidOptionsAreErrors) {
  TableDecoder d(3, 2, 1);
  BeamOptions o;
  o.beam = 0;
  EXPECT_CONTAINS(error_message([&] { beam_search(d, o); }), "beam >= 1");
}

}  // namespace
}  // namespace tfm
