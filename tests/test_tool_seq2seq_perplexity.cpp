// `tfm perplexity CHECKPOINT --source SRC --target TGT`: the teacher-forced per-token NLL of
// parallel text under a transformer and an rnn-attention checkpoint, against a reference that scores
// every pair alone (one row, no padding, built here from the rule in the command's help: source pieces
// + </s>, decoder input <s> + target, predicted target + </s>, pairs cut to seq_len), summed in double.
// The models themselves are compared with PyTorch in scripts/test-torch-interop.sh; this covers the
// tool: batching with padding, per-token weighting across batches, the cut rule and its warnings,
// the output, and the errors a user meets (exit code 2).
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <sstream>

#include "models/checkpoint.h"
#include "test_util.h"
#include "tools/text/tokenizer.h"

namespace tfm {
namespace {
using namespace tfm::testing;

const std::vector<std::string> kSrcWords = {"red", "blue", "green", "big", "small", "dog", "cat", "runs", "eats"};
const std::vector<std::string> kTgtWords = {"rot", "blau", "gruen", "gross", "klein", "hund", "katze", "laeuft", "isst"};

// n pairs of 1-9 words; the target is the source translated word by word in reverse order.
std::pair<std::string, std::string> corpus(int n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string src, tgt;
  for (int i = 0; i < n; ++i) {
    const int len = 1 + static_cast<int>(gen() % 9);
    std::vector<size_t> w(len);
    for (auto& x : w) x = gen() % kSrcWords.size();
    for (int k = 0; k < len; ++k) src += (k ? " " : "") + kSrcWords[w[k]];
    for (int k = len - 1; k >= 0; --k) tgt += (k != len - 1 ? " " : "") + kTgtWords[w[k]];
    src += "\n";
    tgt += "\n";
  }
  return {src, tgt};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

class ToolSeq2SeqPerplexity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto [train_src, train_tgt] = corpus(400, 1);
    auto [val_src, val_tgt] = corpus(30, 2);
    dir_.file("train.src", train_src);
    dir_.file("train.tgt", train_tgt);
    dir_.file("val.src", val_src);
    dir_.file("val.tgt", val_tgt);
  }
  ProcessResult run(const std::string& args) const { return tfm(args, dir_.path()); }
  // Trains `model` for a few steps; returns the checkpoint path (relative to the directory).
  std::string train(const nlohmann::json& model, const std::string& out) const {
    const nlohmann::json c = {
        {"model", model},
        {"tokenizer", {{"type", "sentencepiece"}, {"vocab_size", 60}}},
        {"data", {{"train", {{"source", "train.src"}, {"target", "train.tgt"}}},
                  {"val", {{"source", "val.src"}, {"target", "val.tgt"}}}}},
        {"optim", {{"lr", 0.01}, {"label_smoothing", 0.1}}},
        {"train", {{"batch_size", 16}, {"max_steps", 30}, {"eval_every", 30}, {"log_every", 30},
                   {"eval_bleu", false}, {"threads", 1}}}};
    dir_.file(out + ".json", c.dump());
    const ProcessResult r = run("train " + out + ".json --out " + out + " --quiet");
    EXPECT_EQ(r.code, 0) << r.err;
    return out + "/checkpoints/last.safetensors";
  }

  struct Reference {
    double nll = 0.0;
    int64_t tokens = 0;
    std::set<int64_t> cut_lines;  // 1-based
  };
  // Each pair scored alone: no padding, no batching; the sum of per-token losses over every pair.
  Reference reference(const std::string& checkpoint) const {
    LoadedModel loaded = load_checkpoint(dir_.path(checkpoint));
    const std::unique_ptr<Tokenizer> tok = Tokenizer::from_json(loaded.tokenizer);
    Model& model = *loaded.model;
    model.eval();
    NoGradGuard no_grad;
    const int64_t L = loaded.config.at("seq_len").get<int64_t>();
    const std::vector<std::string> src = lines_of(slurp(dir_.path("val.src"))), tgt = lines_of(slurp(dir_.path("val.tgt")));
    Reference ref;
    for (size_t i = 0; i < src.size(); ++i) {
      std::vector<int32_t> s = tok->encode(src[i]), t = tok->encode(tgt[i]);
      s.push_back(tok->eos_id());
      if (static_cast<int64_t>(s.size()) > L || static_cast<int64_t>(t.size()) + 1 > L) ref.cut_lines.insert(i + 1);
      if (static_cast<int64_t>(s.size()) > L) s.resize(L), s.back() = tok->eos_id();
      if (static_cast<int64_t>(t.size()) + 1 > L) t.resize(L - 1);
      std::vector<int32_t> in{tok->bos_id()}, out = t;
      in.insert(in.end(), t.begin(), t.end());
      out.push_back(tok->eos_id());
      Batch b;
      b.source = Tensor::from_ids({1, static_cast<int64_t>(s.size())}, s);
      b.input = Tensor::from_ids({1, static_cast<int64_t>(in.size())}, in);
      b.target = Tensor::from_ids({1, static_cast<int64_t>(out.size())}, out);
      ref.nll += static_cast<double>(model.loss(b).item()) * static_cast<double>(out.size());
      ref.tokens += static_cast<int64_t>(out.size());
    }
    ref.nll /= static_cast<double>(ref.tokens);
    return ref;
  }

  void expect_matches_reference(const std::string& checkpoint) const {
    const Reference ref = reference(checkpoint);
    ASSERT_GT(ref.cut_lines.size(), 0u) << "the data should exercise the cut to seq_len";
    for (int batch : {1, 4, 100}) {
      const ProcessResult r = run("perplexity " + checkpoint + " --source val.src --target val.tgt --json --batch-size " +
                                  std::to_string(batch));
      ASSERT_EQ(r.code, 0) << r.err;
      const std::vector<std::string> out = lines_of(r.out);
      ASSERT_EQ(out.size(), 4u) << r.out;
      EXPECT_EQ(out[0], "tokens: " + std::to_string(ref.tokens));
      EXPECT_EQ(out[1].rfind("nll: ", 0), 0u) << out[1];
      EXPECT_EQ(out[2].rfind("perplexity: ", 0), 0u) << out[2];
      const nlohmann::json j = nlohmann::json::parse(out[3]);
      EXPECT_EQ(j.at("tokens").get<int64_t>(), ref.tokens);
      EXPECT_NEAR(j.at("nll").get<double>(), ref.nll, 1e-6 * ref.nll) << "batch size " << batch;
      EXPECT_NEAR(j.at("ppl").get<double>(), std::exp(ref.nll), 1e-5 * std::exp(ref.nll));
      std::set<int64_t> warned;
      for (const std::string& line : lines_of(r.err)) {
        EXPECT_EQ(line.rfind("warning: line ", 0), 0u) << line;
        EXPECT_CONTAINS(line, "longer than model.seq_len = 12 tokens; scored its beginning only");
        warned.insert(std::stoll(line.substr(14)));
      }
      EXPECT_EQ(warned, ref.cut_lines);
    }
  }

  TempDir dir_;
};

TEST_F(ToolSeq2SeqPerplexity, TransformerScoreIsThePerTokenMeanOverEveryPairScoredAlone) {
  const std::string ckpt = train({{"type", "transformer"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 16},
                                  {"d_ff", 32}, {"seq_len", 12}},
                                 "tr");
  expect_matches_reference(ckpt);
}

TEST_F(ToolSeq2SeqPerplexity, RnnAttentionScoreIsThePerTokenMeanOverEveryPairScoredAlone) {
  const std::string ckpt = train({{"type", "rnn-attention"}, {"d_model", 16}, {"seq_len", 12},
                                  {"attention", {{"type", "local-p"}, {"score", "general"}, {"window", 2}}}},
                                 "rnn");
  expect_matches_reference(ckpt);
  // On the run's validation files, the score is the run's last validation loss (same rule, same weights).
  const std::vector<std::string> metrics = lines_of(slurp(dir_.path("rnn/metrics.jsonl")));
  double val_loss = -1.0;
  for (const std::string& line : metrics)
    if (const nlohmann::json m = nlohmann::json::parse(line); m.contains("val_loss")) val_loss = m["val_loss"];
  const ProcessResult r = run("perplexity " + ckpt + " --source val.src --target val.tgt --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NEAR(nlohmann::json::parse(lines_of(r.out).back()).at("nll").get<double>(), val_loss, 1e-6 * val_loss);
}

TEST_F(ToolSeq2SeqPerplexity, InputProblemsAreErrorsWithExitCode2) {
  const std::string s2s = train({{"type", "rnn-attention"}, {"d_model", 8}, {"seq_len", 12},
                                 {"attention", {{"type", "none"}}}},
                                "rnn");
  dir_.file("lm.json", nlohmann::json({{"model", {{"type", "lm"}, {"n_layer", 1}, {"d_model", 8}, {"n_head", 2},
                                                   {"seq_len", 8}}},
                                       {"tokenizer", {{"type", "char"}}},
                                       {"data", {{"train", {"train.src"}}}},
                                       {"train", {{"batch_size", 2}, {"max_steps", 1}, {"threads", 1}}}})
                                     .dump());
  ASSERT_EQ(run("train lm.json --out lm --quiet").code, 0);
  const std::string lm = "lm/checkpoints/last.safetensors";
  dir_.file("two.tgt", "rot\nblau\n");
  auto expect_error = [&](const std::string& args, const std::string& message) {
    const ProcessResult r = run("perplexity " + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_CONTAINS(r.err, message);
    EXPECT_EQ(r.out, "") << args;
  };
  expect_error(s2s + " --source val.src --target two.tgt", "the source has 30 lines but the target 2");
  expect_error(s2s + " --source val.src", "--source and --target go together (found only --source)");
  expect_error(s2s + " --target val.tgt", "--source and --target go together (found only --target)");
  expect_error(s2s + " val.src --source val.src --target val.tgt", "not both");
  expect_error(s2s, "give TEXTFILE (a language model) or --source SRC --target TGT");
  expect_error(s2s + " val.src", "is not a language model");
  expect_error(lm + " --source val.src --target val.tgt", "is not an encoder-decoder");
  expect_error(s2s + " --source missing.src --target val.tgt", "missing.src");
  expect_error(s2s + " --source val.src --target val.tgt --batch-size 0", "--batch-size");
  // The LM path is unchanged.
  const ProcessResult ok = run("perplexity " + lm + " val.src --json");
  EXPECT_EQ(ok.code, 0) << ok.err;
}

}  // namespace
}  // namespace tfm
