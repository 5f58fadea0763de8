#pragma once
// The harness of the data-parallel tests (test_distributed.cpp: equivalence
// with one process; test_distributed_faults.cpp: failures that must end the
// job, and resume): running `mpirun -np N tfm train` and one process on the
// same config, the processes of a job, and comparisons of their run
// directories. The `Mpi` fixture skips when tfm was built without MPI or
// mpirun is missing.
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
#include <thread>
#include "autograd/ops/elementwise.h"
#include "autograd/ops/linear.h"
#include "core/kernels/matmul.h"
#include "core/parallel.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "test_util.h"
#include "tools/train/distributed.h"

namespace tfm::mpi_test {

using namespace tfm::testing;

inline bool have_mpirun() { return std::system("command -v mpirun >/dev/null 2>&1") == 0; }

// mpirun refuses root without these; --oversubscribe allows 2 ranks on fewer slots.
inline const char* const kMpirun = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 120 mpirun --oversubscribe";

inline ProcessResult run_shell(const std::string& cmd, const std::string& cwd) {
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
inline pid_t spawn_shell(const std::string& cmd, const std::string& cwd, const std::string& log) {
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
inline bool wait_until(Pred pred, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The processes `parent` started (mpirun's ranks), with their MPI rank from OMPI_COMM_WORLD_RANK.
inline std::map<int, pid_t> children_by_rank(pid_t parent) {
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
inline int wait_for(pid_t pid, double seconds) {
  int status = 0;
  const bool ended = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) != 0; }, seconds);
  if (ended) return status;
  for (auto& [rank, child] : children_by_rank(pid)) ::kill(child, SIGKILL);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

inline uintmax_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  const uintmax_t n = std::filesystem::file_size(path, ec);
  return ec ? 0 : n;
}

// The step of a training state file; -1 while there is none.
inline int64_t state_step(const std::string& path) {
  if (!std::filesystem::exists(path)) return -1;
  const SafetensorsContents c = load_safetensors(path);
  return nlohmann::json::parse(c.metadata.at("train_state")).at("step").get<int64_t>();
}

// "" when the files hold the same tensor names with the same bytes, else the first difference (by name,
// so that a failure does not print kilobytes of tensor data).
inline std::string tensor_difference(const std::string& a, const std::string& b) {
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
inline int temp_files(const std::string& checkpoints) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints))
    n += entry.path().filename().string().find(".tmp.") != std::string::npos;
  return n;
}

// The values of `key` in the metrics lines that have it, in order.
inline std::vector<double> losses(const std::string& run_dir, const std::string& key = "loss") {
  std::vector<double> out;
  std::istringstream lines(slurp(run_dir + "/metrics.jsonl"));
  std::string line;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains(key)) out.push_back(j[key].get<double>());
  }
  return out;
}

inline double max_abs_difference(const std::string& a, const std::string& b) {
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
inline double relative_l2_difference(const std::string& a, const std::string& b) {
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
    dir_.file("corpus.txt", word_corpus(30000));
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
inline constexpr double kLossTolerance = 1e-5, kWeightTolerance = 1e-4;

}  // namespace tfm::mpi_test
