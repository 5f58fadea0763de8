// `tfm train`, `tfm perplexity` and `tfm generate` on a language model with the
// adaptive softmax head (model.head), run as real processes on a tiny model and
// a generated corpus: the run trains with finite losses, its checkpoint holds
// the head's tensors, perplexity scores the validation text with exactly the
// trainer's validation loss (the validation text is one window, so every
// validation batch is that window), generate is seeded, and bf16 works too.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/kernels/matmul.h"
#include "core/safetensors.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// The last metrics line with a validation loss.
double last_val_loss(const std::string& metrics) {
  std::istringstream in(metrics);
  std::string line;
  double loss = NAN;
  while (std::getline(in, line))
    if (!line.empty()) {
      const nlohmann::json m = nlohmann::json::parse(line);
      if (m.contains("val_loss")) loss = m["val_loss"].get<double>();
    }
  return loss;
}

class ToolLmHead : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string text = word_corpus();
    dir_.file("corpus.txt", text);
    dir_.file("val.txt", text.substr(1000, 17));  // seq_len + 1 characters: exactly one window
    const nlohmann::json config = {{"model",
                                    {{"type", "lm"},
                                     {"n_layer", 1},
                                     {"d_model", 16},
                                     {"n_head", 2},
                                     {"seq_len", 16},
                                     {"head", {{"type", "adaptive"}, {"cutoffs", {6, 14}}, {"div_value", 2.0}}}}},
                                   {"tokenizer", {{"type", "char"}}},
                                   {"data", {{"train", {"corpus.txt"}}, {"val", {"val.txt"}}}},
                                   {"optim", {{"lr", 0.01}}},
                                   {"train",
                                    {{"batch_size", 4},
                                     {"max_steps", 12},
                                     {"eval_every", 12},
                                     {"eval_batches", 2},
                                     {"log_every", 1},
                                     {"threads", 1}}}};
    dir_.file("cfg.json", config.dump(2));
  }
  ProcessResult run(const std::string& args) const { return tfm(args, dir_.path()); }
  TempDir dir_;
};

TEST_F(ToolLmHead, AdaptiveHeadTrainsScoresTheValidationLossAndGenerates) {
  const ProcessResult r = run("train cfg.json --out run --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string checkpoint = dir_.path("run/checkpoints/last.safetensors");
  const SafetensorsContents c = load_safetensors(checkpoint);
  const nlohmann::json config = nlohmann::json::parse(c.metadata.at("config"));
  EXPECT_EQ(config["head"]["type"], "adaptive");
  EXPECT_EQ(config["tie_embeddings"], false);
  std::set<std::string> names;
  for (const auto& [name, t] : c.tensors) names.insert(name);
  for (const char* name : {"head.head.weight", "head.tail.0.0.weight", "head.tail.0.1.weight", "head.tail.1.0.weight",
                           "head.tail.1.1.weight"})
    EXPECT_TRUE(names.contains(name)) << name;
  EXPECT_FALSE(names.contains("head.weight"));

  const double val_loss = last_val_loss(slurp(dir_.path("run/metrics.jsonl")));
  ASSERT_TRUE(std::isfinite(val_loss));
  const ProcessResult ppl = run("perplexity run/checkpoints/last.safetensors val.txt --json");
  ASSERT_EQ(ppl.code, 0) << ppl.err;
  const nlohmann::json result = nlohmann::json::parse(ppl.out.substr(ppl.out.rfind('{')));
  EXPECT_EQ(result["tokens"], 16);
  // The trainer's loss (routed tails) and perplexity's (full log-probabilities) on the same window.
  EXPECT_NEAR(result["nll"].get<double>(), val_loss, 2e-6 * val_loss);
  EXPECT_LT(val_loss, std::log(14.0 + 12.0)) << "the model learnt nothing";

  const std::string gen = "generate run/checkpoints/last.safetensors --prompt 'the ' --tokens 30 --top-k 5 ";
  const ProcessResult g1 = run(gen + "--seed 7"), g2 = run(gen + "--seed 7"), g3 = run(gen + "--seed 8");
  ASSERT_EQ(g1.code, 0) << g1.err;
  EXPECT_EQ(g1.out.rfind("the ", 0), 0u);
  EXPECT_EQ(g1.out.size(), 4 + 30 + 1u);
  EXPECT_EQ(g1.out, g2.out);
  EXPECT_NE(g1.out, g3.out);
  const ProcessResult greedy =
      run("generate run/checkpoints/last.safetensors --prompt 'the ' --tokens 10 --temperature 0");
  ASSERT_EQ(greedy.code, 0) << greedy.err;
}

TEST_F(ToolLmHead, AdaptiveHeadTrainsAndScoresInBf16) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512-BF16 (train.precision=bf16 is refused there)";
  const ProcessResult r = run("train cfg.json --out run --quiet --set train.precision=bf16");
  ASSERT_EQ(r.code, 0) << r.err;
  const double val_loss = last_val_loss(slurp(dir_.path("run/metrics.jsonl")));
  ASSERT_TRUE(std::isfinite(val_loss));
  const ProcessResult ppl = run("perplexity run/checkpoints/last.safetensors val.txt --json --precision bf16");
  ASSERT_EQ(ppl.code, 0) << ppl.err;
  const double nll = nlohmann::json::parse(ppl.out.substr(ppl.out.rfind('{')))["nll"].get<double>();
  EXPECT_NEAR(nll, val_loss, 2e-2 * val_loss);  // both bf16 GEMMs, but different row counts per GEMM
}

// Refused when the config is read (exit 2, bad input), before a run directory or a step.
TEST_F(ToolLmHead, LabelSmoothingWithTheAdaptiveHeadIsAClearError) {
  const ProcessResult r = run("train cfg.json --out run --quiet --set optim.label_smoothing=0.1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "optim.label_smoothing = 0.1 needs a head that scores the whole vocabulary; model.head "
                         "\"adaptive\" does not");
  EXPECT_FALSE(std::filesystem::exists(dir_.path("run")));
}

}  // namespace
}  // namespace tfm
