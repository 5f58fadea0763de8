// Data-parallel training: the gradient-ready hook of the autograd tape, the
// reducer in one process, and `mpirun -np 2 tfm train` against one process
// (equivalence, resume across a change of rank count, failures that must end
// the job instead of hanging). The MPI tests skip when tfm was built without
// MPI or mpirun is missing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <random>

#include "autograd/ops/elementwise.h"
#include "autograd/ops/linear.h"
#include "core/parallel.h"
#include "core/safetensors.h"
#include "test_util.h"
#include "tools/distributed.h"

namespace tfm {
namespace {

using namespace tfm::testing;

TEST(GradReadyHook, FiresOncePerLeafAfterItsLastUseWithTheFinalGradient) {
  // w is used by two matmuls, b by one; x needs no gradient.
  Variable x(random_tensor({3, 4}, 1));
  Variable w = random_param({5, 4}, 2), b = random_param({5}, 3), unused = random_param({2}, 4);
  std::map<VariableImpl*, std::vector<float>> seen;
  std::vector<VariableImpl*> order;
  {
    GradReadyHookGuard guard([&](VariableImpl* leaf) {
      order.push_back(leaf);
      seen[leaf].assign(leaf->grad.data(), leaf->grad.data() + leaf->grad.numel());
    });
    Variable y = add(linear(x, w, b), linear(x, w, Variable()));
    sum(y).backward();
  }
  ASSERT_EQ(order.size(), 2u);  // w and b once each; x and the unused parameter never
  EXPECT_EQ(seen.count(x.impl()), 0u);
  EXPECT_EQ(seen.count(unused.impl()), 0u);
  // What the hook saw is the final gradient: both uses of w were already accumulated.
  for (Variable* v : {&w, &b}) {
    ASSERT_EQ(seen.count(v->impl()), 1u);
    const std::vector<float>& g = seen[v->impl()];
    for (int64_t i = 0; i < v->numel(); ++i) ASSERT_EQ(g[i], v->grad().at(i));
  }
  // Without a guard, no hook.
  order.clear();
  sum(linear(x, w, b)).backward();
  EXPECT_TRUE(order.empty());
}

TEST(GradientReducer, OneProcessLeavesGradientsUntouched) {
  ASSERT_EQ(dist::size(), 1);
  Variable w = random_param({4, 3}, 5), b = random_param({4}, 6);
  NamedParameters params{{"w", &w}, {"b", &b}};
  dist::GradientReducer reducer(params, 16);  // tiny buckets: one per parameter
  EXPECT_EQ(reducer.bucket_count(), 2);
  Variable x(random_tensor({2, 3}, 7));
  {
    GradReadyHookGuard guard(reducer.hook());
    sum(linear(x, w, b)).backward();
  }
  const Tensor before = w.grad().copy();
  reducer.finish();
  expect_close(w.grad(), before, 0.0f);
}

// ---- mpirun -np 2 tfm train -------------------------------------------------

bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// mpirun refuses root without these; --oversubscribe allows 2 ranks on fewer slots.
const char* kMpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 mpirun --oversubscribe";

ProcessResult run_shell(const std::string& cmd, const std::string& cwd) {
  const std::string out = cwd + "/.stdout", err = cwd + "/.stderr";
  const int status = std::system(("cd '" + cwd + "' && " + cmd + " >'" + out + "' 2>'" + err + "' </dev/null").c_str());
  ProcessResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::string generated_corpus() {
  static const std::vector<std::string> words = {"to", "be", "or", "not", "that", "is", "the", "question",
                                                 "whether", "tis", "nobler", "in", "mind", "suffer", "slings", "arrows"};
  std::mt19937 gen(3);
  std::string text;
  while (text.size() < 30000) {
    const int n = 3 + static_cast<int>(gen() % 10);
    for (int k = 0; k < n; ++k) text += (k ? " " : "") + words[gen() % words.size()];
    text += "\n";
  }
  return text;
}

std::vector<double> losses(const std::string& run_dir) {
  std::vector<double> out;
  std::istringstream lines(slurp(run_dir + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out.push_back(j["loss"].get<double>());
  }
  return out;
}

double max_abs_difference(const std::string& a, const std::string& b) {
  SafetensorsContents x = load_safetensors(a), y = load_safetensors(b);
  EXPECT_EQ(x.tensors.size(), y.tensors.size());
  double worst = 0.0;
  for (auto& [name, t] : x.tensors) {
    const Tensor* u = y.find(name);
    EXPECT_NE(u, nullptr) << name;
    if (u == nullptr || t.dtype() != DType::F32) continue;
    for (int64_t i = 0; i < t.numel(); ++i) worst = std::max(worst, static_cast<double>(std::fabs(t.data()[i] - u->data()[i])));
  }
  return worst;
}

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!dist::compiled_with_mpi()) GTEST_SKIP() << "tfm was built without MPI (TFM_WITH_MPI, libopenmpi-dev)";
    if (!have_mpirun()) GTEST_SKIP() << "mpirun not found (openmpi-bin)";
    dir_.file("corpus.txt", generated_corpus());
    config_ = {{"model", {{"type", "lm"}, {"n_layer", 2}, {"d_model", 32}, {"n_head", 2}, {"seq_len", 24}, {"dropout", 0.0}}},
               {"tokenizer", {{"type", "char"}}},
               {"data", {{"train", {"corpus.txt"}}, {"val_fraction", 0.1}}},
               {"optim", {{"lr", 0.005}, {"schedule", "cosine"}, {"warmup_steps", 4}, {"decay_steps", 40}}},
               {"train", {{"batch_size", 8}, {"max_steps", 20}, {"eval_every", 10}, {"eval_batches", 3},
                          {"log_every", 1}, {"checkpoint_every", 10}, {"seed", 11}, {"threads", 1}}}};
    dir_.file("cfg.json", config_.dump(2));
  }
  ProcessResult train(int ranks, const std::string& args) {
    const std::string tfm_cmd = std::string("'") + TFM_EXE + "' train cfg.json --quiet " + args;
    if (ranks == 1) return run_shell("timeout 120 " + tfm_cmd, dir_.path());
    return run_shell(std::string(kMpirun) + " -np " + std::to_string(ranks) + " " + tfm_cmd, dir_.path());
  }
  void train_ok(int ranks, const std::string& args) {
    const ProcessResult r = train(ranks, args);
    ASSERT_EQ(r.code, 0) << ranks << " ranks: tfm train " << args << "\nstderr: " << r.err;
  }
  std::string path(const std::string& name) const { return dir_.path(name); }

  TempDir dir_;
  nlohmann::json config_;
};

// Tolerances: the global batch's gradient is one GEMM over 8 rows in one
// process and the average of two 4-row GEMMs with two ranks, so the numbers
// differ by float rounding only. Measured: losses agree to about 1e-7
// relative; weights after 20 AdamW steps to about 2e-5 absolute (Adam divides
// by √v, which magnifies rounding in near-zero gradients).
constexpr double kLossTolerance = 1e-5, kWeightTolerance = 1e-4;

TEST_F(Mpi, TwoRanksTrainLikeOneProcess) {
  train_ok(1, "--out one");
  train_ok(2, "--out two");
  const auto a = losses(path("one")), b = losses(path("two"));
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);  // rank 0 alone writes the metrics: each step once
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], kLossTolerance * std::fabs(a[i])) << "step " << i + 1;
  EXPECT_LT(max_abs_difference(path("one/checkpoints/last.safetensors"), path("two/checkpoints/last.safetensors")),
            kWeightTolerance);
  EXPECT_CONTAINS(slurp(path("two/train.log")), "x 2 MPI ranks");
  EXPECT_CONTAINS(slurp(path("two/metrics.jsonl")), "allreduce_wait_ms");
  // The losses really moved (the comparison is not between two untrained models).
  EXPECT_LT(a.back(), a.front() - 0.3);
}

// Parallel data: token-count batches have rows of unequal length, so the ranks hold unequal
// numbers of target tokens; weighting each rank's loss by its share keeps the global per-token
// mean, and validation BLEU adds the ranks' n-gram counts.
TEST_F(Mpi, TwoRanksTrainATranslationModelLikeOneProcess) {
  std::string src, tgt;
  Generator g(5);
  const std::vector<std::string> a_words = {"red", "blue", "dog", "cat", "runs", "sees"};
  const std::vector<std::string> b_words = {"rot", "blau", "hund", "katze", "laeuft", "sieht"};
  for (int i = 0; i < 400; ++i) {
    const int n = 2 + static_cast<int>(g.next_below(6));
    for (int k = 0; k < n; ++k) {
      const size_t w = g.next_below(a_words.size());
      src += (k ? " " : "") + a_words[w];
      tgt += (k ? " " : "") + b_words[w];
    }
    src += "\n";
    tgt += "\n";
  }
  dir_.file("train.src", src);
  dir_.file("train.tgt", tgt);
  // Validation: the first 30 pairs.
  auto first_lines = [](const std::string& text, int n) {
    size_t pos = 0;
    for (int i = 0; i < n; ++i) pos = text.find('\n', pos) + 1;
    return text.substr(0, pos);
  };
  dir_.file("val.src", first_lines(src, 30));
  dir_.file("val.tgt", first_lines(tgt, 30));
  const nlohmann::json cfg = {
      {"model", {{"type", "transformer"}, {"n_encoder_layers", 1}, {"n_decoder_layers", 1}, {"n_head", 2},
                 {"d_model", 32}, {"d_ff", 64}, {"seq_len", 24}, {"norm", "pre"}, {"dropout", 0.0}}},
      {"tokenizer", {{"type", "sentencepiece"}, {"vocab_size", 60}}},
      {"data", {{"train", {{"source", "train.src"}, {"target", "train.tgt"}}},
                {"val", {{"source", "val.src"}, {"target", "val.tgt"}}}}},
      {"optim", {{"lr", 0.005}, {"schedule", "noam"}, {"warmup_steps", 5}, {"label_smoothing", 0.1}}},
      {"train", {{"batch_tokens", 160}, {"max_steps", 15}, {"eval_every", 15}, {"log_every", 1},
                 {"checkpoint_every", 15}, {"seed", 3}, {"threads", 1}}}};
  dir_.file("cfg.json", cfg.dump(2));
  train_ok(1, "--out one");
  train_ok(2, "--out two");
  const auto a = losses(path("one")), b = losses(path("two"));
  ASSERT_EQ(a.size(), 15u);
  ASSERT_EQ(b.size(), 15u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], kLossTolerance * std::fabs(a[i])) << "step " << i + 1;
  EXPECT_LT(a.back(), a.front() - 0.3);
  auto last_val = [&](const std::string& run) {
    nlohmann::json v;
    std::istringstream lines(slurp(path(run + "/metrics.jsonl")));
    std::string line;
    while (std::getline(lines, line))
      if (line.find("val_loss") != std::string::npos) v = nlohmann::json::parse(line);
    return v;
  };
  // Batches of one row (30 tokens hold one long pair): the second rank has no row of its own and
  // must add nothing, yet take part in every reduction.
  const std::string small = "--set train.batch_tokens=30 --set train.max_steps=8 --set train.eval_every=8 ";
  train_ok(1, small + "--out one_small");
  train_ok(2, small + "--out two_small");
  const auto c = losses(path("one_small")), d = losses(path("two_small"));
  ASSERT_EQ(c.size(), 8u);
  ASSERT_EQ(d.size(), 8u);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], d[i], kLossTolerance * std::fabs(c[i])) << "step " << i + 1;
  const nlohmann::json va = last_val("one"), vb = last_val("two");
  EXPECT_NEAR(va["val_loss"].get<double>(), vb["val_loss"].get<double>(), kLossTolerance * va["val_loss"].get<double>());
  // Validation BLEU: each rank decodes its share of the sentences and the n-gram counts add up.
  // From the same trained weights (lr 0 for one step: nothing changes) one process and two ranks
  // must report the same corpus BLEU.
  train_ok(1, "--out base --set train.max_steps=150 --set train.eval_every=1000 --set train.eval_bleu=false");
  const std::string eval = "--resume base/checkpoints/last.safetensors --set train.max_steps=1 --set optim.lr=0 ";
  train_ok(1, eval + "--out e1");
  train_ok(2, eval + "--out e2");
  const double b1 = last_val("e1")["val_bleu"].get<double>(), b2 = last_val("e2")["val_bleu"].get<double>();
  EXPECT_GT(b1, 20.0) << "the base model should have learnt the word mapping";
  EXPECT_NEAR(b1, b2, 1e-9);
}

TEST_F(Mpi, ResumeAcrossAChangeOfRankCount) {
  train_ok(1, "--out straight");
  // 2 ranks for 10 steps, then 1 process to 20; and 1 process for 10, then 2 ranks to 20.
  train_ok(2, "--out down --set train.max_steps=10");
  train_ok(1, "--resume down");
  train_ok(1, "--out up --set train.max_steps=10");
  train_ok(2, "--resume up");
  const auto s = losses(path("straight"));
  for (const char* run : {"down", "up"}) {
    SCOPED_TRACE(run);
    const auto r = losses(path(run));
    ASSERT_EQ(r.size(), s.size());
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(s[i], r[i], kLossTolerance * std::fabs(s[i])) << "step " << i + 1;
    EXPECT_LT(max_abs_difference(path("straight/checkpoints/last.safetensors"),
                                 path(std::string(run) + "/checkpoints/last.safetensors")),
              kWeightTolerance);
  }
}

TEST_F(Mpi, GlobalBatchNotDivisibleByTheRanksNamesTheKey) {
  const ProcessResult r = train(2, "--out bad --set train.batch_size=7");
  EXPECT_NE(r.code, 0);
  EXPECT_CONTAINS(r.err, "train.batch_size");
  EXPECT_CONTAINS(r.err, "2 MPI ranks");
}

TEST_F(Mpi, ABadInputOnOneRankEndsTheWholeJob) {
  // Rank 1 alone is given a config whose data file is missing (MPMD launch);
  // rank 0 would otherwise wait for it in the first collective forever.
  nlohmann::json bad = config_;
  bad["data"]["train"] = {"missing.txt"};
  dir_.file("bad.json", bad.dump(2));
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const ProcessResult r = run_shell(std::string(kMpirun) + " -np 1 " + tfm + " train cfg.json --quiet --out job : -np 1 " +
                                        tfm + " train bad.json --quiet --out job",
                                    dir_.path());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_CONTAINS(r.err, "error: rank 1: data file not found: missing.txt");
}

TEST_F(Mpi, SigtermToMpirunCheckpointsOnceAndTheRunResumes) {
  // A long run; SIGTERM goes to mpirun alone once training is under way (mpirun forwards it to the
  // ranks, then sends SIGKILL odls_base_sigkill_timeout seconds later: 3 here, for a loaded CI machine).
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const ProcessResult r = run_shell(
      "(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout --foreground 120 mpirun --oversubscribe "
      "--mca odls_base_sigkill_timeout 3 -np 2 " + tfm +
          " train cfg.json --quiet --out run --set train.max_steps=1000000 --set train.checkpoint_every=1000000 & "
          "pid=$!; for i in $(seq 300); do [ -s run/metrics.jsonl ] && break; sleep 0.1; done; sleep 0.5; "
          "kill -TERM $pid; wait $pid; echo \"mpirun exit $?\")",
      dir_.path());
  SCOPED_TRACE("mpirun stdout: " + r.out + "\nstderr: " + r.err);
  EXPECT_CONTAINS(r.out, "mpirun exit");
  EXPECT_CONTAINS(slurp(path("run/train.log")), "interrupted:");
  const SafetensorsContents state = load_safetensors(path("run/checkpoints/last.state.safetensors"));
  const int64_t step = nlohmann::json::parse(state.metadata.at("train_state")).at("step").get<int64_t>();
  EXPECT_GT(step, 0);
  // The checkpoint continues: one process, a few more steps.
  train_ok(1, "--resume run --set train.max_steps=" + std::to_string(step + 3));
  EXPECT_CONTAINS(slurp(path("run/train.log")), "resuming at step " + std::to_string(step));
}

TEST_F(Mpi, ThreadsDefaultToTheCoresSharedBetweenTheRanks) {
  config_["train"]["threads"] = 0;
  dir_.file("cfg.json", config_.dump(2));
  train_ok(2, "--out threads --set train.max_steps=2");
  const int per_rank = std::max(1, available_cores() / 2);
  EXPECT_CONTAINS(slurp(path("threads/train.log")), std::to_string(per_rank) + " threads x 2 MPI ranks");
}

}  // namespace
}  // namespace tfm
