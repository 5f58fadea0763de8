// Data-parallel training: the gradient-ready hook of the autograd tape, the
// reducer in one process, and `mpirun -np 2 tfm train` against one process
// (equivalence, resume across a change of rank count, failures that must end
// the job instead of hanging: a bad input on one rank, a rank killed, rank 0
// dying part-way through a checkpoint, SIGTERM to mpirun). The MPI tests skip
// when tfm was built without MPI or mpirun is missing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <random>
#include <thread>

#include "autograd/ops/elementwise.h"
#include "autograd/ops/linear.h"
#include "core/kernels/matmul.h"
#include "core/parallel.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "test_util.h"
#include "tools/train/distributed.h"

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

// Starts `/bin/sh -c "exec CMD"` in `cwd`, stdout and stderr to `log`: the pid is CMD's own (mpirun's),
// for tests that signal it or its ranks.
pid_t spawn_shell(const std::string& cmd, const std::string& cwd, const std::string& log) {
  const std::string script = "exec " + cmd;
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Polls until pred() holds; false after `seconds`. Tests that race a running job wait on such events
// (a file appearing, a step logged), never on fixed sleeps, so that a loaded machine only makes them slower.
template <typename Pred>
bool wait_until(Pred pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The processes `parent` started (mpirun's ranks), with their MPI rank from OMPI_COMM_WORLD_RANK.
std::map<int, pid_t> children_by_rank(pid_t parent) {
  std::map<int, pid_t> out;
  for (const auto& process : std::filesystem::directory_iterator("/proc")) {
    const std::string name = process.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = slurp(process.path().string() + "/stat");
    const size_t close = stat.rfind(')');  // "pid (comm) state ppid ..."
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    const std::string env = slurp(process.path().string() + "/environ");
    const std::string key = "OMPI_COMM_WORLD_RANK=";
    std::istringstream entries(env);
    std::string entry;
    while (std::getline(entries, entry, '\0'))
      if (entry.starts_with(key)) out[std::stoi(entry.substr(key.size()))] = std::stoi(name);
  }
  return out;
}

// waitpid with a deadline; on timeout kills mpirun's ranks and mpirun, and returns -1.
int wait_for(pid_t pid, double seconds) {
  int status = 0;
  const bool ended = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) != 0; }, seconds);
  if (ended) return status;
  for (auto& [rank, child] : children_by_rank(pid)) ::kill(child, SIGKILL);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const uintmax_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// The step of a training state file; -1 while there is none.
int64_t state_step(const std::string& path) {
  if (!std::filesystem::exists(path)) return -1;
  const SafetensorsContents c = load_safetensors(path);
  return nlohmann::json::parse(c.metadata.at("train_state")).at("step").get<int64_t>();
}

// "" when the files hold the same tensor names with the same bytes, else the first difference (by name,
// so that a failure does not print kilobytes of tensor data).
std::string tensor_difference(const std::string& a, const std::string& b) {
  const SafetensorsContents x = load_safetensors(a), y = load_safetensors(b);
  if (x.tensors.size() != y.tensors.size()) return "tensor counts differ";
  for (auto& [name, t] : x.tensors) {
    const Tensor* u = y.find(name);
    if (u == nullptr) return "tensor \"" + name + "\" missing in " + b;
    if (u->nbytes() != t.nbytes() || std::memcmp(u->raw_data(), t.raw_data(), t.nbytes()) != 0)
      return "tensor \"" + name + "\" differs";
  }
  return "";
}

// A killed write's leftovers in a run's checkpoints/ (core/io.h: PATH.tmp.PID).
int temp_files(const std::string& checkpoints) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints))
    n += entry.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
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

// The values of `key` in the metrics lines that have it, in order.
std::vector<double> losses(const std::string& run_dir, const std::string& key = "loss") {
  std::vector<double> out;
  std::istringstream lines(slurp(run_dir + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains(key)) out.push_back(j[key].get<double>());
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

// ‖a − b‖ / ‖a‖ over all fp32 tensors of two checkpoints.
double relative_l2_difference(const std::string& a, const std::string& b) {
  SafetensorsContents x = load_safetensors(a), y = load_safetensors(b);
  double diff = 0.0, norm = 0.0;
  for (auto& [name, t] : x.tensors) {
    const Tensor* u = y.find(name);
    EXPECT_NE(u, nullptr) << name;
    if (u == nullptr || t.dtype() != DType::F32) continue;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double d = t.data()[i] - u->data()[i];
      diff += d * d;
      norm += static_cast<double>(t.data()[i]) * t.data()[i];
    }
  }
  return std::sqrt(diff / norm);
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

// train.ema and train.z_loss with two ranks: every rank keeps the same average (no communication; the
// weights are the same on every rank), the z term is reduced over the ranks like the loss, and the
// validations, which score the average, agree with one process to float rounding.
TEST_F(Mpi, TwoRanksKeepTheAverageAndTheZLossOfOneProcess) {
  const std::string recipe = "--set train.ema.decay=0.8 --set train.ema.start=5 --set train.z_loss=1e-3 ";
  train_ok(1, recipe + "--out one");
  train_ok(2, recipe + "--out two");
  for (const char* key : {"loss", "z_loss", "val_loss"}) {
    const auto a = losses(path("one"), key), b = losses(path("two"), key);
    ASSERT_EQ(a.size(), b.size()) << key;
    ASSERT_FALSE(a.empty()) << key;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], kLossTolerance * std::fabs(a[i])) << key << " " << i;
  }
  EXPECT_LT(max_abs_difference(path("one/checkpoints/ema.safetensors"), path("two/checkpoints/ema.safetensors")),
            kWeightTolerance);
  EXPECT_GT(max_abs_difference(path("two/checkpoints/ema.safetensors"), path("two/checkpoints/last.safetensors")),
            10 * kWeightTolerance);
}

// The same in bf16 (train.precision = bf16). Each rank rounds the same operands, and
// the loss weight of 2 ranks (1/2) commutes with rounding, but a different fp32
// accumulation order (each rank sums half the rows) now and then moves a value across
// a bf16 rounding boundary, a change of 2⁻⁸ relative instead of 2⁻²⁴, and AdamW turns a
// flipped near-zero gradient into a full lr-sized step of the other sign. Measured
// here: losses agree to about 1e-4 relative over 20 steps; the weights are 1.0e-2 apart
// (relative L2), as far as a one-process bf16 run is from fp32 (9e-3), where the fp32
// runs of 1 and 2 ranks are 5e-6 apart.
TEST_F(Mpi, TwoRanksTrainLikeOneProcessInBf16) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512-BF16 (train.precision=bf16 is refused there)";
  train_ok(1, "--out one --set train.precision=bf16");
  train_ok(2, "--out two --set train.precision=bf16");
  const auto a = losses(path("one")), b = losses(path("two"));
  ASSERT_EQ(a.size(), 20u);
  ASSERT_EQ(b.size(), 20u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-3 * std::fabs(a[i])) << "step " << i + 1;
  const double rel = relative_l2_difference(path("one/checkpoints/last.safetensors"), path("two/checkpoints/last.safetensors"));
  EXPECT_LT(rel, 2e-2);
  EXPECT_CONTAINS(slurp(path("two/train.log")), "precision bf16");
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

TEST_F(Mpi, RanksWithOtherTokensEndTheJobNamingTheirCacheFile) {
  // Rank 1 alone reads another corpus into a cache directory of its own (MPMD launch), as a rank
  // on another host with other data would: the ranks' check after preparing ends the job.
  const std::string corpus = generated_corpus();
  dir_.file("other.txt", corpus + corpus.substr(0, corpus.find('\n') + 1));  // the same characters, more of them
  nlohmann::json other = config_;
  other["data"]["train"] = {"other.txt"};
  other["data"]["cache_dir"] = "other-cache";
  dir_.file("other.json", other.dump(2));
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const ProcessResult r = run_shell(std::string(kMpirun) + " -np 1 " + tfm + " train cfg.json --quiet --out job : -np 1 " +
                                        tfm + " train other.json --quiet --out job",
                                    dir_.path());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_CONTAINS(r.err, "data: the MPI ranks disagree on the tokens (rank ");
  EXPECT_CONTAINS(r.err, "training tokens in ");
}

// mpirun (Open MPI 4.1), sent SIGTERM, waits odls_base_sigkill_timeout seconds, sends SIGTERM to the
// ranks, waits as long again and sends SIGKILL: the ranks have that long for their last step, its
// evaluation and the checkpoint pair with its fsyncs, which took 2 s on a loaded 2-core machine (the
// test had 3 s and failed under ctest -j2). 15 s, and the job still ends in about 20 s. The signal goes
// out once step 1 is logged, when every rank has its handler installed (step 1's reduction needs them all).
TEST_F(Mpi, SigtermToMpirunCheckpointsOnceAndTheRunResumes) {
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const pid_t mpirun = spawn_shell(
      "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe "
      "--mca odls_base_sigkill_timeout 15 -np 2 " + tfm +
          " train cfg.json --quiet --out run --set train.max_steps=1000000 --set train.checkpoint_every=1000000",
      dir_.path(), path("mpirun.log"));
  ASSERT_GT(mpirun, 0);
  const bool started = wait_until([&] { return file_size_or_zero(path("run/metrics.jsonl")) > 0; }, 120);
  ::kill(mpirun, SIGTERM);
  const int status = wait_for(mpirun, 120);
  SCOPED_TRACE("mpirun output: " + slurp(path("mpirun.log")));
  ASSERT_TRUE(started) << "no step was logged within 120 s";
  ASSERT_NE(status, -1) << "mpirun did not end within 120 s of SIGTERM";
  EXPECT_CONTAINS(slurp(path("run/train.log")), "interrupted:");
  const int64_t step = state_step(path("run/checkpoints/last.state.safetensors"));
  EXPECT_GT(step, 0);
  // The checkpoint continues: one process, a few more steps.
  train_ok(1, "--resume run --set train.max_steps=" + std::to_string(step + 3));
  EXPECT_CONTAINS(slurp(path("run/train.log")), "resuming at step " + std::to_string(step));
}

// The overrides of the failure tests: a checkpoint pair every 2 steps.
const char* kEvery2 = "--set train.checkpoint_every=2 --set optim.schedule=constant ";

// A rank killed at a random moment after the run has checkpointed twice: mpirun sees it die and ends the
// job; the last pair on disk loads and resumes (with 2 ranks again) to the same bytes as a straight run.
TEST_F(Mpi, ARankKilledMidTrainingEndsTheJobWithin60SecondsAndTheLastCheckpointResumes) {
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const pid_t mpirun = spawn_shell("env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun "
                                   "--oversubscribe -np 2 " + tfm + " train cfg.json --quiet --out run " + kEvery2 +
                                       "--set train.max_steps=1000000",
                                   dir_.path(), path("mpirun.log"));
  ASSERT_GT(mpirun, 0);
  const std::string state_path = path("run/checkpoints/last.state.safetensors");
  const bool checkpointed = wait_until([&] { return state_step(state_path) >= 4; }, 120);
  std::map<int, pid_t> ranks = children_by_rank(mpirun);
  std::mt19937 rng(std::random_device{}());
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 50000));  // a random moment, not a wait
  if (ranks.count(1)) ::kill(ranks[1], SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  const int status = wait_for(mpirun, 60);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  SCOPED_TRACE("mpirun output: " + slurp(path("mpirun.log")));
  ASSERT_TRUE(checkpointed) << "no second checkpoint within 120 s";
  ASSERT_EQ(ranks.count(1), 1u) << "rank 1 not found among mpirun's children";
  ASSERT_NE(status, -1) << "the job was still running 60 s after rank 1 was killed";
  EXPECT_LT(seconds, 60.0);
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "mpirun exited 0 after a rank was killed";

  EXPECT_NO_THROW(load_checkpoint(path("run/checkpoints/last.safetensors")));
  const int64_t step = state_step(state_path);
  EXPECT_GE(step, 4);
  EXPECT_EQ(step % 2, 0);
  const std::string end = "--set train.max_steps=" + std::to_string(step + 2);
  train_ok(2, "--resume run " + std::string(kEvery2) + end);
  EXPECT_EQ(temp_files(path("run/checkpoints")), 0);
  train_ok(2, "--out straight " + std::string(kEvery2) + end);
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.safetensors"),
                              path("straight/checkpoints/last.safetensors")),
            "");
  EXPECT_EQ(tensor_difference(state_path, path("straight/checkpoints/last.state.safetensors")), "");
}

// Rank 0 alone writes checkpoints; the test hook (core/io.h) kills it with SIGKILL half-way through
// writing the state of step 4, after last.safetensors of step 4 is in place.
TEST_F(Mpi, Rank0DyingPartWayThroughACheckpointEndsTheJobAndTheRunResumesExactly) {
  const std::string tfm = std::string("'") + TFM_EXE + "'";
  const auto start = std::chrono::steady_clock::now();
  const ProcessResult r = run_shell(std::string(kMpirun) + " -x TFM_FAULT_INJECT=die:last.state:2 -np 2 " + tfm +
                                        " train cfg.json --quiet --out run " + kEvery2 + "--set train.max_steps=8",
                                    dir_.path());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  SCOPED_TRACE("mpirun stderr: " + r.err);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.code, 124) << "the job hung until the timeout";
  EXPECT_LT(seconds, 60.0);
  EXPECT_EQ(temp_files(path("run/checkpoints")), 1);  // the state's temporary file, half written
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), 2);
  train_ok(2, "--out straight --set train.keep_checkpoints=100 " + std::string(kEvery2) + "--set train.max_steps=8");
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.safetensors"),
                              path("straight/checkpoints/step-00000004.safetensors")),
            "");
  train_ok(2, "--resume run " + std::string(kEvery2) + "--set train.max_steps=8");
  EXPECT_EQ(temp_files(path("run/checkpoints")), 0);
  EXPECT_CONTAINS(slurp(path("run/train.log")), "resuming at step 2");
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.safetensors"),
                              path("straight/checkpoints/last.safetensors")),
            "");
  EXPECT_EQ(tensor_difference(path("run/checkpoints/last.state.safetensors"),
                              path("straight/checkpoints/last.state.safetensors")),
            "");
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
