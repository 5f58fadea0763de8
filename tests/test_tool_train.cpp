// `tfm train` end to end, run as a real process on a tiny model and a
// generated corpus: the run directory, exact resume, determinism, NaN
// handling, checkpoints that survive kill -9, SIGTERM, and starting from a
// checkpoint's weights; then perplexity and generate on the result.
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
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/kernels/matmul.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "tools/eval/lm_eval.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

namespace fs = std::filesystem;

// Starts `tfm ARGS` in `cwd` as a child process (output to `log`), for tests that signal it.
pid_t spawn_tfm(const std::vector<std::string>& args, const std::string& cwd, const std::string& log) {
  std::vector<std::string> all = {TFM_EXE};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// waitpid with a deadline; kills the child and returns -1 when it does not end in time.
int wait_for(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return status;
}

// Polls until pred() holds; false after `seconds`.
template <typename Pred>
bool wait_until(Pred pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const uintmax_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// step → training loss, from the metrics lines that have a loss.
std::map<int64_t, double> losses(const std::string& run_dir) {
  std::map<int64_t, double> out;
  for (auto& m : read_jsonl(run_dir + "/metrics.jsonl"))
    if (m.contains("loss")) out[m["step"].get<int64_t>()] = m["loss"].get<double>();
  return out;
}

// The step recorded in a training state file.
int64_t state_step(const std::string& state_path) {
  const SafetensorsContents c = load_safetensors(state_path);
  return nlohmann::json::parse(c.metadata.at("train_state")).at("step").get<int64_t>();
}

// Same tensor names, dtypes, shapes and bytes (the state file's metadata holds wall times, so files are not compared).
void expect_same_tensors(const std::string& a, const std::string& b) {
  const SafetensorsContents ca = load_safetensors(a), cb = load_safetensors(b);
  ASSERT_EQ(ca.tensors.size(), cb.tensors.size()) << a << " vs " << b;
  for (size_t i = 0; i < ca.tensors.size(); ++i) {
    const auto& [name_a, ta] = ca.tensors[i];
    const auto& [name_b, tb] = cb.tensors[i];
    ASSERT_EQ(name_a, name_b);
    ASSERT_EQ(ta.dtype(), tb.dtype()) << name_a;
    ASSERT_EQ(ta.shape(), tb.shape()) << name_a;
    EXPECT_EQ(std::memcmp(ta.raw_data(), tb.raw_data(), ta.nbytes()), 0) << name_a << " differs: " << a << " vs " << b;
  }
}

bool all_finite(const std::string& path) {
  for (auto& [name, t] : load_safetensors(path).tensors) {
    if (t.dtype() != DType::F32) continue;
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(t.data()[i])) return false;
  }
  return true;
}

// About 20 KB of lines of words: enough for 16-token windows and a validation split.
// The tiny model of the brief: 1 layer, d_model 16, 2 heads, 16 positions, batch 4, char tokenizer.
nlohmann::json base_config() {
  return {{"model",
           {{"type", "lm"}, {"n_layer", 1}, {"d_model", 16}, {"n_head", 2}, {"seq_len", 16}, {"dropout", 0.1}}},
          {"tokenizer", {{"type", "char"}}},
          {"data", {{"train", {"corpus.txt"}}}},
          {"optim", {{"lr", 0.01}, {"schedule", "cosine"}, {"warmup_steps", 3}, {"decay_steps", 20}}},
          {"train",
           {{"batch_size", 4}, {"max_steps", 20}, {"eval_every", 5}, {"eval_batches", 2}, {"log_every", 1},
            {"checkpoint_every", 5}, {"threads", 1}}}};
}

class ToolTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    corpus_ = word_corpus(20000, 16, 1);
    dir_.file("corpus.txt", corpus_);
    write_config(base_config());
  }
  void write_config(const nlohmann::json& config, const std::string& name = "cfg.json") {
    dir_.file(name, config.dump(2));
  }
  std::string path(const std::string& name) const { return dir_.path(name); }
  ProcessResult train(const std::string& args) { return tfm("train cfg.json --quiet " + args, dir_.path()); }
  // Trains and requires success.
  void train_ok(const std::string& args) {
    const ProcessResult r = train(args);
    ASSERT_EQ(r.code, 0) << "tfm train " << args << "\nstderr: " << r.err;
  }

  TempDir dir_;
  std::string corpus_;
};

TEST_F(ToolTrain, TinyRunWritesTheRunDirectoryAndItsCheckpointScoresAndGenerates) {
  const ProcessResult r = tfm("train cfg.json --out run", dir_.path());  // not quiet: the log goes to stderr too
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "steps: 20");
  EXPECT_CONTAINS(r.err, "step 20 val_loss");
  for (const char* f : {"run/config.json", "run/metrics.jsonl", "run/train.log", "run/checkpoints/last.safetensors",
                        "run/checkpoints/best.safetensors", "run/checkpoints/last.state.safetensors"})
    EXPECT_TRUE(fs::is_regular_file(path(f))) << f;

  // config.json: the resolved config, defaults and the tokenizer's vocabulary size filled in.
  const nlohmann::json config = read_json_file(path("run/config.json"));
  EXPECT_EQ(config["train"]["max_steps"], 20);
  EXPECT_EQ(config["optim"]["name"], "adamw");
  EXPECT_EQ(config["model"]["d_model"], 16);
  EXPECT_GT(config["model"]["vocab_size"].get<int64_t>(), 10);

  // metrics.jsonl: a training line per step (log_every 1), an eval line every 5 steps.
  std::vector<int64_t> train_steps, eval_steps;
  for (auto& m : read_jsonl(path("run/metrics.jsonl"))) {
    if (m.contains("loss")) {
      for (const char* key : {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"})
        EXPECT_TRUE(m.contains(key)) << key << " missing in " << m.dump();
      EXPECT_TRUE(std::isfinite(m["loss"].get<double>()));
      EXPECT_GT(m["grad_norm"].get<double>(), 0.0);
      train_steps.push_back(m["step"]);
    } else {
      for (const char* key : {"step", "val_loss", "val_ppl", "elapsed_s"}) EXPECT_TRUE(m.contains(key)) << m.dump();
      EXPECT_NEAR(m["val_ppl"].get<double>(), std::exp(m["val_loss"].get<double>()), 1e-9 * m["val_ppl"].get<double>());
      eval_steps.push_back(m["step"]);
    }
  }
  std::vector<int64_t> all_steps(20);
  std::iota(all_steps.begin(), all_steps.end(), 1);
  EXPECT_EQ(train_steps, all_steps);
  EXPECT_EQ(eval_steps, (std::vector<int64_t>{5, 10, 15, 20}));
  // The schedule as configured: warmup to 0.01 over 3 steps, cosine to 0 at step 20.
  const auto metrics = read_jsonl(path("run/metrics.jsonl"));
  EXPECT_DOUBLE_EQ(metrics[0]["lr"].get<double>(), 0.01 / 3);
  EXPECT_EQ(metrics.back()["step"], 20);
  const std::string log = slurp(path("run/train.log"));
  EXPECT_CONTAINS(log, "step 1 loss");
  EXPECT_CONTAINS(log, "done: 20 steps");

  // perplexity --json: every token but the first is scored once.
  const std::string text = corpus_.substr(0, 301);
  dir_.file("eval.txt", text);
  const ProcessResult ppl = tfm("perplexity run/checkpoints/last.safetensors eval.txt --json", dir_.path());
  ASSERT_EQ(ppl.code, 0) << ppl.err;
  const std::string last_line = ppl.out.substr(ppl.out.rfind('{'));
  const nlohmann::json result = nlohmann::json::parse(last_line);
  EXPECT_EQ(result["tokens"], 300);
  EXPECT_NEAR(result["ppl"].get<double>(), std::exp(result["nll"].get<double>()), 1e-6 * result["ppl"].get<double>());
  // The same numbers through the library.
  LoadedLm lm = load_lm(path("run/checkpoints/last.safetensors"));
  const PerplexityResult direct = perplexity(*lm.model, lm.tokenizer->encode(text), 16);
  EXPECT_EQ(direct.tokens, 300);
  EXPECT_NEAR(result["nll"].get<double>(), direct.nll, 1e-7 * direct.nll);
  // An untrained model would score about ln(vocab); this one has learnt something.
  EXPECT_LT(direct.nll, std::log(static_cast<double>(lm.tokenizer->vocab_size())));

  // generate: the same seed gives the same text.
  const std::string gen_args = "generate run/checkpoints/best.safetensors --prompt 'the ' --tokens 40 --top-k 10 --top-p 0.95 ";
  const ProcessResult g1 = tfm(gen_args + "--seed 11", dir_.path());
  const ProcessResult g2 = tfm(gen_args + "--seed 11", dir_.path());
  const ProcessResult g3 = tfm(gen_args + "--seed 12", dir_.path());
  ASSERT_EQ(g1.code, 0) << g1.err;
  EXPECT_EQ(g1.out.rfind("the ", 0), 0u);
  EXPECT_EQ(g1.out.size(), 4 + 40 + 1u);
  EXPECT_EQ(g1.out, g2.out);
  EXPECT_NE(g1.out, g3.out);
}

TEST_F(ToolTrain, ResumeFromTheRunDirectoryIsBitwiseIdenticalToAStraightRun) {
  train_ok("--out straight");
  train_ok("--out split --set train.max_steps=10");
  EXPECT_EQ(state_step(path("split/checkpoints/last.state.safetensors")), 10);
  train_ok("--resume split");
  EXPECT_CONTAINS(slurp(path("split/train.log")), "resuming at step 10");
  expect_same_tensors(path("straight/checkpoints/last.safetensors"), path("split/checkpoints/last.safetensors"));
  // Optimizer moments and step count too.
  expect_same_tensors(path("straight/checkpoints/last.state.safetensors"),
                      path("split/checkpoints/last.state.safetensors"));
  const auto a = losses(path("straight")), b = losses(path("split"));
  EXPECT_EQ(a.size(), 20u);
  EXPECT_EQ(a, b);  // every step logged once, with the same loss
}

// train.precision = bf16 (where the CPU has AVX512-BF16): exact resume holds, the run logs
// its precision, and its losses follow fp32's closely (the GEMM operands are rounded to
// 8 significant bits; a tiny model this early differs by well under 1%).
TEST_F(ToolTrain, Bf16RunResumesBitwiseAndFollowsTheFp32Losses) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "this CPU has no AVX512-BF16 (train.precision=bf16 is refused there)";
  train_ok("--out fp32");
  train_ok("--out straight --set train.precision=bf16");
  train_ok("--out split --set train.precision=bf16 --set train.max_steps=10");
  train_ok("--resume split --set train.precision=bf16");
  EXPECT_CONTAINS(slurp(path("straight/train.log")), "precision bf16 (train.precision)");
  EXPECT_CONTAINS(slurp(path("fp32/train.log")), "precision fp32 (train.precision)");
  expect_same_tensors(path("straight/checkpoints/last.state.safetensors"),
                      path("split/checkpoints/last.state.safetensors"));
  const auto f = losses(path("fp32")), a = losses(path("straight")), b = losses(path("split"));
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), f.size());
  bool any_differs = false;
  for (const auto& [step, loss] : a) {
    ASSERT_TRUE(f.count(step)) << "step " << step;
    EXPECT_NEAR(loss, f.at(step), 0.01 * f.at(step)) << "step " << step;
    any_differs |= loss != f.at(step);
  }
  EXPECT_TRUE(any_differs) << "bf16 losses equal fp32's: the GEMMs ran in fp32";
}

TEST_F(ToolTrain, UnknownPrecisionIsAnErrorNamingTheKey) {
  const ProcessResult r = train("--out run --set train.precision=fp16");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "precision");
  EXPECT_CONTAINS(r.err, "fp16");
}

TEST_F(ToolTrain, ResumeWithAChangedModelIsAnError) {
  train_ok("--out run --set train.max_steps=5");
  const ProcessResult r = train("--resume run --set model.d_model=32");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_CONTAINS(r.err, "the config's \"model\" section differs from the run's");
  // The run is untouched and still resumes.
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), 5);
  train_ok("--resume run --set train.max_steps=6");
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), 6);
}

// A run directory written before keys existed: its config.json lacks them. The
// run resumes when what they default to is what it used (compared as this build
// resolves both configs), and a real change is still refused.
TEST_F(ToolTrain, ARunWrittenBeforeNewKeysResumes) {
  train_ok("--out run --set train.max_steps=5");
  nlohmann::json config = nlohmann::json::parse(slurp(path("run/config.json")));
  nlohmann::json& model = config["model"];
  ASSERT_TRUE(model.contains("attention") && model.contains("norm_placement")) << model.dump();
  model.erase("attention");
  model["norm"] = model["norm_placement"];  // the legacy spelling of the placement
  model.erase("norm_placement");
  model.erase("pos_emb");
  std::ofstream(path("run/config.json")) << config.dump(2);
  train_ok("--resume run --set train.max_steps=6");
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), 6);
  // A change of a key the old file lacked is still a change.
  const ProcessResult r = train("--resume run --set train.max_steps=7 --set model.pos_emb=sinusoidal");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_CONTAINS(r.err, "the config's \"model\" section differs from the run's");
}

TEST_F(ToolTrain, SameConfigAndSeedGiveBitwiseIdenticalCheckpoints) {
  train_ok("--out a");
  train_ok("--out b");
  for (const char* f : {"checkpoints/last.safetensors", "checkpoints/best.safetensors"})
    EXPECT_EQ(slurp(path(std::string("a/") + f)), slurp(path(std::string("b/") + f))) << f;
  expect_same_tensors(path("a/checkpoints/last.state.safetensors"), path("b/checkpoints/last.state.safetensors"));
  EXPECT_EQ(losses(path("a")), losses(path("b")));
  train_ok("--out c --set train.seed=7");
  EXPECT_NE(slurp(path("a/checkpoints/last.safetensors")), slurp(path("c/checkpoints/last.safetensors")));
}

// Plain SGD at lr 100 without clipping diverges to NaN within a few steps.
const char* kDiverge =
    "--set optim.name=sgd --set optim.lr=100 --set optim.grad_clip=0 --set optim.schedule=constant "
    "--set optim.warmup_steps=0 --set train.max_steps=100 --set train.eval_every=1000 --set train.checkpoint_every=1 ";

TEST_F(ToolTrain, NonFiniteLossStopsWithExitCode1AndKeepsTheLastGoodCheckpoint) {
  const ProcessResult r = train(std::string(kDiverge) + "--out run");
  ASSERT_EQ(r.code, 1) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex(R"(error: step ([0-9]+): (loss|gradient norm) is -?(nan|inf))")))
      << r.err;
  EXPECT_CONTAINS(r.err, "skip_nonfinite");
  const int64_t bad_step = std::stoll(m[1].str());
  EXPECT_GT(bad_step, 1);
  // The checkpoint of the step before loads, with finite weights.
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), bad_step - 1);
  EXPECT_NO_THROW(load_checkpoint(path("run/checkpoints/last.safetensors")));
  EXPECT_TRUE(all_finite(path("run/checkpoints/last.safetensors")));
  EXPECT_TRUE(all_finite(path("run/checkpoints/last.state.safetensors")));
  const ProcessResult ppl = tfm("perplexity run/checkpoints/last.safetensors corpus.txt", dir_.path());
  EXPECT_EQ(ppl.code, 0) << ppl.err;
  for (auto& [step, loss] : losses(path("run"))) EXPECT_LT(step, bad_step);
}

TEST_F(ToolTrain, SkipNonFiniteCompletesTheRun) {
  const ProcessResult r = train(std::string(kDiverge) + "--out run --set train.skip_nonfinite=true");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "steps: 100");
  EXPECT_CONTAINS(slurp(path("run/train.log")), "step skipped (train.skip_nonfinite)");
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), 100);
  EXPECT_NO_THROW(load_checkpoint(path("run/checkpoints/last.safetensors")));
}

// Everything in checkpoints/ loads; anything else is a leftover temporary file of a killed write.
int64_t check_checkpoint_dir(const std::string& dir, int* leftovers) {
  *leftovers = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "last.safetensors" || name == "best.safetensors") {
      EXPECT_NO_THROW(load_checkpoint(entry.path().string())) << name;
    } else if (name == "last.state.safetensors") {
      EXPECT_NO_THROW(state_step(entry.path().string())) << name;
    } else {
      EXPECT_NE(name.find(".safetensors.tmp."), std::string::npos) << "unexpected file " << name;
      ++*leftovers;
    }
  }
  EXPECT_TRUE(fs::exists(dir + "/last.safetensors"));
  return state_step(dir + "/last.state.safetensors");
}

TEST_F(ToolTrain, KillMinus9NeverLeavesACorruptCheckpoint) {
  nlohmann::json config = base_config();
  config["optim"]["schedule"] = "constant";
  config["train"]["max_steps"] = 1000000;
  config["train"]["checkpoint_every"] = 1;
  config["train"]["eval_every"] = 1000000;
  write_config(config);
  std::mt19937 rng(2024);
  int64_t step = 0;
  for (int round = 0; round < 6; ++round) {
    const std::string metrics = path("run/metrics.jsonl");
    const uintmax_t before = file_size_or_zero(metrics);
    const pid_t pid = spawn_tfm(round == 0 ? std::vector<std::string>{"train", "cfg.json", "--quiet", "--out", "run"}
                                           : std::vector<std::string>{"train", "cfg.json", "--quiet", "--resume", "run"},
                                dir_.path(), path("kill.log"));
    ASSERT_GT(pid, 0);
    // Once it has taken a step (and so checkpointed), kill it at a random moment.
    const bool started = wait_until(
        [&] { return file_size_or_zero(metrics) > before && fs::exists(path("run/checkpoints/last.state.safetensors")); },
        60);
    if (started) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    ::kill(pid, SIGKILL);
    const int status = wait_for(pid, 30);
    ASSERT_TRUE(started) << slurp(path("kill.log"));
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status << ": " << slurp(path("kill.log"));
    int leftovers = 0;
    const int64_t now = check_checkpoint_dir(path("run/checkpoints"), &leftovers);
    EXPECT_GE(now, step) << "round " << round;
    step = now;
  }
  ASSERT_GT(step, 0);
  // Resuming finishes the run, removes leftovers, and lands exactly where a straight run does.
  const int64_t end = step + 3;
  train_ok("--resume run --set train.max_steps=" + std::to_string(end));
  int leftovers = 0;
  EXPECT_EQ(check_checkpoint_dir(path("run/checkpoints"), &leftovers), end);
  EXPECT_EQ(leftovers, 0);
  config["train"]["max_steps"] = end;
  write_config(config, "straight.json");
  const ProcessResult straight = tfm("train straight.json --quiet --out straight", dir_.path());
  ASSERT_EQ(straight.code, 0) << straight.err;
  expect_same_tensors(path("straight/checkpoints/last.safetensors"), path("run/checkpoints/last.safetensors"));
  // Steps the killed runs logged after their last checkpoint were dropped on resume: each step is logged
  // once, with the loss of the straight run.
  int64_t loss_lines = 0;
  for (auto& m : read_jsonl(path("run/metrics.jsonl"))) loss_lines += m.contains("loss");
  EXPECT_EQ(loss_lines, end);
  EXPECT_EQ(losses(path("straight")), losses(path("run")));
}

TEST_F(ToolTrain, SigtermStopsWithExitCode130AfterACheckpointThatResumes) {
  nlohmann::json config = base_config();
  config["optim"]["schedule"] = "constant";
  config["train"]["max_steps"] = 1000000;
  config["train"]["checkpoint_every"] = 1000000;  // the only checkpoint is the one the signal causes
  config["train"]["eval_every"] = 1000000;
  write_config(config);
  const pid_t pid = spawn_tfm({"train", "cfg.json", "--quiet", "--out", "run"}, dir_.path(), path("term.log"));
  ASSERT_GT(pid, 0);
  const bool started = wait_until([&] { return file_size_or_zero(path("run/metrics.jsonl")) > 0; }, 60);
  ::kill(pid, SIGTERM);
  const int status = wait_for(pid, 60);
  ASSERT_TRUE(started) << slurp(path("term.log"));
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << ": " << slurp(path("term.log"));
  EXPECT_EQ(WEXITSTATUS(status), 130) << slurp(path("term.log"));
  const int64_t stopped = state_step(path("run/checkpoints/last.state.safetensors"));
  EXPECT_GE(stopped, 1);
  EXPECT_EQ(losses(path("run")).rbegin()->first, stopped);  // the last step is logged
  EXPECT_CONTAINS(slurp(path("run/train.log")), "interrupted: " + std::to_string(stopped) + " steps");

  const int64_t end = stopped + 4;
  train_ok("--resume run --set train.max_steps=" + std::to_string(end));
  EXPECT_EQ(state_step(path("run/checkpoints/last.state.safetensors")), end);
  config["train"]["max_steps"] = end;
  write_config(config, "straight.json");
  const ProcessResult straight = tfm("train straight.json --quiet --out straight", dir_.path());
  ASSERT_EQ(straight.code, 0) << straight.err;
  expect_same_tensors(path("straight/checkpoints/last.safetensors"), path("run/checkpoints/last.safetensors"));
  EXPECT_EQ(losses(path("straight")), losses(path("run")));
}

TEST_F(ToolTrain, ResumeFromACheckpointFileStartsFromItsWeightsWithAFreshOptimizer) {
  train_ok("--out first");
  const std::string source = slurp(path("first/checkpoints/last.safetensors"));
  // lr 0 leaves the weights exactly as loaded.
  train_ok("--resume first/checkpoints/last.safetensors --out second --set optim.lr=0 --set train.max_steps=3");
  EXPECT_EQ(slurp(path("first/checkpoints/last.safetensors")), source);  // the source run is untouched
  expect_same_tensors(path("first/checkpoints/last.safetensors"), path("second/checkpoints/last.safetensors"));
  // A fresh optimizer and step count: 3 steps, not 23.
  EXPECT_EQ(state_step(path("second/checkpoints/last.state.safetensors")), 3);
  const SafetensorsContents state = load_safetensors(path("second/checkpoints/last.state.safetensors"));
  ASSERT_NE(state.find("optimizer.steps"), nullptr);
  EXPECT_EQ(state.find("optimizer.steps")->data_i32()[0], 3);
  EXPECT_EQ(losses(path("second")).begin()->first, 1);
  EXPECT_TRUE(fs::exists(path("second/config.json")));
  // The checkpoint's tokenizer is kept.
  EXPECT_EQ(load_checkpoint(path("second/checkpoints/last.safetensors")).tokenizer,
            load_checkpoint(path("first/checkpoints/last.safetensors")).tokenizer);
  // And training from it goes on from its loss, not from an untrained model's.
  train_ok("--resume first/checkpoints/last.safetensors --out third --set train.max_steps=3");
  train_ok("--out fresh --set train.max_steps=3");
  EXPECT_LT(losses(path("third")).at(1), losses(path("fresh")).at(1));
}

}  // namespace
}  // namespace tfm
