// `tfm generate`'s sampling, through the real binary, as distributions: a
// checkpoint whose next-token logits are a chosen vector at every position,
// whatever the context, generates many tokens, and a chi-square goodness-of-fit
// test compares their counts with the distribution that temperature, top-k and
// top-p promise (tools/eval/lm_eval.h), computed here in double. Tokens the
// filters remove must never appear. Seeds are fixed, so nothing is flaky.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr int kVocab = 8;  // the characters a … h, ids 0 … 7 (the char vocabulary is sorted)
constexpr int64_t kTokens = 20000;

// χ² critical values at p = 0.001 for 1 … 7 degrees of freedom.
constexpr double kChiSquareCritical[] = {0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322};

// The documented distribution: q_j ∝ exp(z_j / T), tokens ranked by q (ties: the lower id first); top-k keeps
// the k first; top-p then keeps the shortest prefix of those whose mass, as a fraction of the whole
// distribution, reaches p; the kept tokens are sampled renormalised.
std::vector<double> expected_distribution(const std::vector<float>& z, double T, int64_t top_k, double top_p) {
  const double mx = *std::max_element(z.begin(), z.end());
  std::vector<double> q(z.size());
  double total = 0.0;
  for (size_t j = 0; j < z.size(); ++j) total += q[j] = std::exp((z[j] - mx) / T);
  std::vector<int> rank(z.size());
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(), [&](int a, int b) { return q[a] > q[b]; });
  size_t keep = top_k > 0 ? std::min<size_t>(top_k, z.size()) : z.size();
  if (top_p < 1.0) {
    double mass = 0.0;
    size_t n = 0;
    while (n < keep && mass < top_p * total) mass += q[rank[n++]];
    keep = n;
  }
  std::vector<double> p(z.size(), 0.0);
  double kept = 0.0;
  for (size_t i = 0; i < keep; ++i) kept += q[rank[i]];
  for (size_t i = 0; i < keep; ++i) p[rank[i]] = q[rank[i]] / kept;
  return p;
}

class Sampling : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string text;
    for (int i = 0; i < 400; ++i) text += "abcdefgh";
    dir_.file("corpus.txt", text);
    const nlohmann::json config = {
        {"model",
         {{"type", "lm"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 16}, {"seq_len", 8}, {"tie_embeddings", false}}},
        {"tokenizer", {{"type", "char"}}},
        {"data", {{"train", {"corpus.txt"}}}},
        {"train", {{"batch_size", 2}, {"max_steps", 1}, {"eval_batches", 1}, {"threads", 1}}}};
    dir_.file("cfg.json", config.dump());
    const ProcessResult r = tfm("train cfg.json --quiet --out run", dir_.path());
    ASSERT_EQ(r.code, 0) << r.err;
  }

  // A checkpoint whose logits are z at every position: ln_f with gain 0 outputs its bias e_0, and the untied
  // head's column 0 holds z.
  std::string constant_logits(const std::vector<float>& z, const std::string& name) {
    SafetensorsContents c = load_safetensors(dir_.path("run/checkpoints/last.safetensors"));
    bool head = false;
    for (auto& [tensor, t] : c.tensors) {
      if (tensor == "ln_f.weight" || tensor == "ln_f.bias" || tensor == "head.weight") std::fill_n(t.data(), t.numel(), 0.0f);
      if (tensor == "ln_f.bias") t.data()[0] = 1.0f;
      if (tensor == "head.weight") {
        EXPECT_EQ(t.dim(0), static_cast<int64_t>(z.size()));
        for (int64_t j = 0; j < t.dim(0); ++j) t.data()[j * t.dim(1)] = z[j];
        head = true;
      }
    }
    EXPECT_TRUE(head) << "no untied head";
    save_safetensors(dir_.path(name), c.tensors, c.metadata);
    return name;
  }

  // Counts of each id in `tokens` generated tokens.
  std::vector<int64_t> generate(const std::string& checkpoint, const std::string& options, int64_t tokens = kTokens) {
    const ProcessResult r =
        tfm("generate " + checkpoint + " --tokens " + std::to_string(tokens) + " --seed 11 " + options, dir_.path());
    EXPECT_EQ(r.code, 0) << r.err;
    std::vector<int64_t> counts(kVocab, 0);
    std::string text = r.out;
    if (!text.empty() && text.back() == '\n') text.pop_back();
    EXPECT_EQ(static_cast<int64_t>(text.size()), tokens) << options;
    for (char ch : text) {
      const int id = ch - 'a';
      EXPECT_TRUE(id >= 0 && id < kVocab) << "unexpected character " << static_cast<int>(ch);
      if (id >= 0 && id < kVocab) ++counts[id];
    }
    return counts;
  }

  // Tokens outside the support never appear; χ² over the support below the p = 0.001 critical value.
  void expect_distribution(const std::vector<int64_t>& counts, const std::vector<double>& p, const std::string& what) {
    SCOPED_TRACE(what);
    const int64_t n = std::accumulate(counts.begin(), counts.end(), int64_t{0});
    double chi2 = 0.0;
    int support = 0;
    std::string table;
    for (int j = 0; j < kVocab; ++j) {
      table += "  id " + std::to_string(j) + ": " + std::to_string(counts[j]) + " observed, " +
               std::to_string(p[j] * static_cast<double>(n)) + " expected\n";
      if (p[j] == 0.0) {
        EXPECT_EQ(counts[j], 0) << "id " << j << " is outside the kept set";
        continue;
      }
      ++support;
      const double e = p[j] * static_cast<double>(n);
      ASSERT_GE(e, 5.0) << "design: every expected count must be at least 5 for the chi-square test";
      chi2 += (counts[j] - e) * (counts[j] - e) / e;
    }
    if (support >= 2) {
      EXPECT_LT(chi2, kChiSquareCritical[support - 1]) << "chi-square with " << support - 1 << " dof\n" << table;
    } else {
      EXPECT_EQ(support, 1);
    }
  }

  TempDir dir_;
};

// Distinct logits, not in id order.
const std::vector<float> kLogits = {0.5f, 2.0f, -1.0f, 1.0f, -1.5f, 1.5f, 0.0f, -0.5f};

TEST_F(Sampling, TemperatureSamplesTheTemperedSoftmax) {
  const std::string ckpt = constant_logits(kLogits, "distinct.safetensors");
  for (double T : {1.0, 0.5, 2.0}) {
    const std::string t = std::to_string(T);
    expect_distribution(generate(ckpt, "--temperature " + t), expected_distribution(kLogits, T, 0, 1.0),
                        "temperature " + t);
  }
  // Not vacuous: the counts at temperature 0.5 do not fit temperature 1.
  const std::vector<int64_t> sharp = generate(ckpt, "--temperature 0.5");
  const std::vector<double> wrong = expected_distribution(kLogits, 1.0, 0, 1.0);
  double chi2 = 0.0;
  for (int j = 0; j < kVocab; ++j) chi2 += std::pow(sharp[j] - wrong[j] * kTokens, 2) / (wrong[j] * kTokens);
  EXPECT_GT(chi2, 10 * kChiSquareCritical[kVocab - 1]);
  // Temperature 0 is greedy: always the largest logit (id 1).
  const std::vector<int64_t> greedy = generate(ckpt, "--temperature 0", 200);
  EXPECT_EQ(greedy[1], 200);
}

TEST_F(Sampling, TopKAndTopPSampleTheRenormalisedKeptSet) {
  const std::string ckpt = constant_logits(kLogits, "distinct.safetensors");
  // Design: each top-p sits well inside a gap between the cumulative masses of the ranked tokens (at T = 1
  // about 0.40, 0.64, 0.79, 0.88, 0.94, 0.97, 0.99, 1), so that float rounding cannot move the boundary.
  auto off_boundary = [](double T, double p) {
    std::vector<double> sorted = expected_distribution(kLogits, T, 0, 1.0);
    std::sort(sorted.rbegin(), sorted.rend());
    double mass = 0.0;
    for (double s : sorted) {
      mass += s;
      if (std::fabs(mass - p) < 0.02) return false;
    }
    return true;
  };
  for (auto [T, p] : {std::pair{1.0, 0.6}, {1.0, 0.85}, {0.7, 0.8}, {1.0, 0.7}})
    ASSERT_TRUE(off_boundary(T, p)) << "top-p " << p << " at temperature " << T << " sits on a boundary";
  auto kept = [](const std::vector<double>& p) { return std::count_if(p.begin(), p.end(), [](double x) { return x > 0; }); };

  expect_distribution(generate(ckpt, "--top-k 3"), expected_distribution(kLogits, 1.0, 3, 1.0), "top-k 3");
  expect_distribution(generate(ckpt, "--top-k 1"), expected_distribution(kLogits, 1.0, 1, 1.0), "top-k 1");
  EXPECT_EQ(kept(expected_distribution(kLogits, 1.0, 0, 0.6)), 2);
  expect_distribution(generate(ckpt, "--top-p 0.6"), expected_distribution(kLogits, 1.0, 0, 0.6), "top-p 0.6");
  EXPECT_EQ(kept(expected_distribution(kLogits, 1.0, 0, 0.85)), 4);
  expect_distribution(generate(ckpt, "--top-p 0.85"), expected_distribution(kLogits, 1.0, 0, 0.85), "top-p 0.85");
  EXPECT_EQ(kept(expected_distribution(kLogits, 0.7, 0, 0.8)), 3);
  expect_distribution(generate(ckpt, "--top-p 0.8 --temperature 0.7"), expected_distribution(kLogits, 0.7, 0, 0.8),
                      "top-p 0.8, temperature 0.7");
  // Both filters: top-p measures mass against the whole distribution, so top-k 4 with top-p 0.7 keeps the 3
  // tokens top-p 0.7 alone keeps (renormalising the top 4 first would keep only 2: 0.45 + 0.28 ≥ 0.7).
  EXPECT_EQ(kept(expected_distribution(kLogits, 1.0, 4, 0.7)), 3);
  expect_distribution(generate(ckpt, "--top-k 4 --top-p 0.7"), expected_distribution(kLogits, 1.0, 4, 0.7),
                      "top-k 4, top-p 0.7");
}

// Ties and the exact top-p boundary: four tokens share logit 0 and the rest sit at −50 (weights e^−50, which
// vanish next to 4 in the double sum), so the masses are exactly 1/4 each. top-p 0.5 is reached exactly by
// two tokens ("reaches" means ≥: two are kept, not three), and ties go to the lower id: ids 1 and 3 of the
// tied 1, 3, 4, 6. top-k 3 keeps 1, 3 and 4.
TEST_F(Sampling, TopPStopsWhenTheMassReachesPAndTiesGoToTheLowerId) {
  const std::vector<float> tied = {-50.0f, 0.0f, -50.0f, 0.0f, 0.0f, -50.0f, 0.0f, -50.0f};
  const std::string ckpt = constant_logits(tied, "tied.safetensors");
  const std::vector<double> half = expected_distribution(tied, 1.0, 0, 0.5);
  EXPECT_EQ(half, (std::vector<double>{0, 0.5, 0, 0.5, 0, 0, 0, 0}));
  expect_distribution(generate(ckpt, "--top-p 0.5"), half, "top-p 0.5");
  const std::vector<double> three = expected_distribution(tied, 1.0, 3, 1.0);
  EXPECT_EQ(three, (std::vector<double>{0, 1.0 / 3, 0, 1.0 / 3, 1.0 / 3, 0, 0, 0}));
  expect_distribution(generate(ckpt, "--top-k 3"), three, "top-k 3");
  // Just above the boundary a third token joins.
  expect_distribution(generate(ckpt, "--top-p 0.51"), expected_distribution(tied, 1.0, 0, 0.51), "top-p 0.51");
}

}  // namespace
}  // namespace tfm
