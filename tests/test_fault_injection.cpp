// Crash safety of `tfm train`, through the real binary on a tiny model: the
// test hook TFM_FAULT_INJECT (core/io.h) makes a chosen checkpoint write fail
// (I/O error, disk full) or kills the process part-way through it; a real
// full tmpfs does the same without the hook. After each fault the previous
// checkpoint pair loads and `--resume` ends bitwise where an uninterrupted run
// ends. And `--resume` refuses a corrupted, truncated or foreign training
// state with exit code 2, leaving every file of the run directory as it was.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "test_util.h"

extern char** environ;

namespace tfm {
namespace {
using namespace tfm::testing;
namespace fs = std::filesystem;

struct Exit {
  int status = -1;  // as from waitpid; -1: did not end in time (then killed)
  std::string err;
  bool exited_with(int code) const { return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool killed_by(int sig) const { return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == sig; }
};

// Runs `tfm ARGS` in `cwd` (argv as given, no shell) with `env` added to the environment
// (NAME=VALUE entries replace inherited ones), stdout and stderr to files in cwd.
Exit run_tfm(const std::vector<std::string>& args, const std::string& cwd, const std::vector<std::string>& env = {},
             double seconds = 120) {
  std::vector<std::string> all = {TFM_EXE};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings(env);
  env_strings.push_back("OMP_NUM_THREADS=1");
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const std::string& mine : env_strings) replaced |= mine.substr(0, mine.find('=')) == name;
    if (!replaced) env_strings.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out = cwd + "/.stdout", err = cwd + "/.stderr";
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o >= 0) ::dup2(o, 1);
    if (e >= 0) ::dup2(e, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  Exit r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.err = "<killed after " + std::to_string(seconds) + " s>\n";
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.status = status;
  r.err += slurp(err);
  return r;
}

// Tensor name → raw bytes, for bitwise comparisons: the tensors whose names start with `prefix`
// ("model." selects a state file's copy of the weights), the prefix removed.
using TensorBytes = std::map<std::string, std::string>;
TensorBytes tensor_bytes(const std::string& path, const std::string& prefix = "") {
  TensorBytes out;
  for (auto& [name, t] : load_safetensors(path).tensors)
    if (name.starts_with(prefix))
      out[name.substr(prefix.size())] = std::string(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

// "" when both hold the same tensor names with the same bytes, else the first difference (by name, so
// that a failure does not print kilobytes of tensor data).
std::string tensor_difference(const TensorBytes& a, const TensorBytes& b) {
  for (auto& [name, bytes] : a) {
    const auto it = b.find(name);
    if (it == b.end()) return "tensor \"" + name + "\" only in the first";
    if (it->second != bytes) return "tensor \"" + name + "\" differs";
  }
  for (auto& [name, bytes] : b)
    if (!a.contains(name)) return "tensor \"" + name + "\" only in the second";
  return "";
}

// Whole files, compared without printing them.
void expect_same_file(const std::string& a, const std::string& b) {
  EXPECT_TRUE(slurp(a) == slurp(b)) << a << " and " << b << " differ";
}

int64_t state_step(const std::string& path) {
  return nlohmann::json::parse(load_safetensors(path).metadata.at("train_state")).at("step").get<int64_t>();
}

// step → training loss from metrics.jsonl.
std::map<int64_t, double> losses(const std::string& run_dir) {
  std::map<int64_t, double> out;
  std::istringstream in(slurp(run_dir + "/metrics.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json m = nlohmann::json::parse(line);
    if (m.contains("loss")) out[m["step"].get<int64_t>()] = m["loss"].get<double>();
  }
  return out;
}

// Names of a killed write's leftovers (core/io.h: PATH.tmp.PID).
std::vector<std::string> temp_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(entry.path().string());
  return out;
}

// Relative path → FNV-1a 64 of the contents, for every file under `dir`.
std::map<std::string, uint64_t> file_hashes(const std::string& dir) {
  std::map<std::string, uint64_t> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : slurp(entry.path().string())) h = (h ^ c) * 1099511628211ULL;
    out[fs::relative(entry.path(), dir).string()] = h;
  }
  return out;
}

// 8 steps, a checkpoint pair every 2 (checkpoints/last.safetensors, then last.state.safetensors) and
// best.safetensors at the evaluations of steps 4 and 8. Dropout is on, so that an exact resume also
// needs the dropout stream's position.
nlohmann::json base_config() {
  return {{"model",
           {{"type", "lm"}, {"n_layer", 1}, {"d_model", 16}, {"n_head", 2}, {"seq_len", 16}, {"dropout", 0.1}}},
          {"tokenizer", {{"type", "char"}}},
          {"data", {{"train", {"corpus.txt"}}}},
          {"optim", {{"lr", 0.01}, {"schedule", "cosine"}, {"warmup_steps", 2}, {"decay_steps", 8}}},
          {"train", {{"batch_size", 4}, {"max_steps", 8}, {"eval_every", 4}, {"eval_batches", 2}, {"log_every", 1},
                     {"checkpoint_every", 2}, {"seed", 5}, {"threads", 1}}}};
}

class FaultInjection : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.file("corpus.txt", word_corpus(20000, 16, 4));
    dir_.file("cfg.json", base_config().dump(2));
  }
  std::string path(const std::string& name) const { return dir_.path(name); }
  std::string ckpt(const std::string& run, const std::string& file) const {
    return dir_.path(run + "/checkpoints/" + file);
  }
  Exit train(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {"train", "cfg.json", "--quiet"};
    all.insert(all.end(), args.begin(), args.end());
    return run_tfm(all, dir_.path(), env);
  }
  void train_ok(const std::vector<std::string>& args) {
    const Exit r = train(args);
    ASSERT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.err;
  }
  // The uninterrupted run, keeping every step's checkpoint (checkpoints/step-0000000N.safetensors).
  void train_straight() { train_ok({"--out", "straight", "--set", "train.keep_checkpoints=100"}); }
  std::string straight_step(int step) const {
    char name[64];
    std::snprintf(name, sizeof name, "step-%08d.safetensors", step);
    return ckpt("straight", name);
  }
  // `tfm inspect` loads the checkpoint and prints its parameters.
  void expect_inspect_loads(const std::string& file) {
    const Exit r = run_tfm({"inspect", file}, dir_.path());
    EXPECT_TRUE(r.exited_with(0)) << file << ": " << r.err;
  }
  // --resume ends where the straight run ends: the same bytes in last.safetensors (the tensors, and the
  // file, which holds no wall time), the same optimizer state, every step logged once with its loss.
  void expect_resume_matches_straight(const std::string& run) {
    const Exit r = train({"--resume", run});
    ASSERT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.err;
    EXPECT_EQ(state_step(ckpt(run, "last.state.safetensors")), 8);
    EXPECT_EQ(tensor_difference(tensor_bytes(ckpt(run, "last.safetensors")),
                                tensor_bytes(ckpt("straight", "last.safetensors"))),
              "");
    expect_same_file(ckpt(run, "last.safetensors"), ckpt("straight", "last.safetensors"));
    EXPECT_EQ(tensor_difference(tensor_bytes(ckpt(run, "last.state.safetensors")),
                                tensor_bytes(ckpt("straight", "last.state.safetensors"))),
              "");
    EXPECT_EQ(losses(path(run)), losses(path("straight")));
    EXPECT_TRUE(temp_files(path(run)).empty()) << "left: " << temp_files(path(run)).front();
  }

  TempDir dir_;
};

TEST_F(FaultInjection, FailedModelCheckpointWriteExitsWith1AndThePreviousPairResumesExactly) {
  train_straight();
  ASSERT_EQ(losses(path("straight")).size(), 8u);
  // The 2nd write of last.safetensors (step 4) fails after half of its temporary file is written.
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=write_fail:last.safetensors:2"});
  ASSERT_TRUE(r.exited_with(1)) << "status " << r.status << ": " << r.err;
  EXPECT_CONTAINS(r.err, "\nerror: checkpoint failed: cannot write run/checkpoints/last.safetensors: "
                         "Input/output error (injected by TFM_FAULT_INJECT=write_fail:last.safetensors:2)");
  EXPECT_TRUE(temp_files(path("run")).empty()) << "a failed write removes its temporary file";
  // The pair of step 2: the state is not written after a failed model checkpoint.
  EXPECT_EQ(state_step(ckpt("run", "last.state.safetensors")), 2);
  expect_same_file(ckpt("run", "last.safetensors"), straight_step(2));
  EXPECT_EQ(tensor_difference(tensor_bytes(ckpt("run", "last.state.safetensors"), "model."),
                              tensor_bytes(straight_step(2))),
            "");
  expect_inspect_loads("run/checkpoints/last.safetensors");
  expect_resume_matches_straight("run");
}

// The pair is two files, written weights first: a failed state write leaves last.safetensors a
// checkpoint ahead of the state. --resume takes weights and optimizer moments from the state alone
// (last.safetensors gives only the tokenizer), so the torn pair is never mixed.
TEST_F(FaultInjection, FailedStateWriteLeavesANewerModelCheckpointAndResumeUsesTheStatesWeights) {
  train_straight();
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=write_fail:last.state:2"});
  ASSERT_TRUE(r.exited_with(1)) << "status " << r.status << ": " << r.err;
  EXPECT_CONTAINS(r.err, "error: checkpoint failed: cannot write run/checkpoints/last.state.safetensors: "
                         "Input/output error");
  EXPECT_TRUE(temp_files(path("run")).empty());
  expect_same_file(ckpt("run", "last.safetensors"), straight_step(4));
  EXPECT_EQ(state_step(ckpt("run", "last.state.safetensors")), 2);
  EXPECT_EQ(tensor_difference(tensor_bytes(ckpt("run", "last.state.safetensors"), "model."),
                              tensor_bytes(straight_step(2))),
            "");
  // The torn pair really differs.
  ASSERT_NE(tensor_difference(tensor_bytes(straight_step(2)), tensor_bytes(straight_step(4))), "");
  expect_inspect_loads("run/checkpoints/last.safetensors");
  expect_resume_matches_straight("run");
  EXPECT_CONTAINS(slurp(path("run/train.log")), "resuming at step 2");
}

TEST_F(FaultInjection, DeathPartWayThroughTheModelCheckpointKeepsThePreviousPair) {
  train_straight();
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=die:last.safetensors:2"});
  ASSERT_TRUE(r.killed_by(SIGKILL)) << "status " << r.status << ": " << r.err;
  // The killed write's temporary file holds part of the file; the target is the step-2 checkpoint.
  const std::vector<std::string> left = temp_files(path("run"));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_CONTAINS(left[0], "checkpoints/last.safetensors.tmp.");
  EXPECT_GT(fs::file_size(left[0]), 0u);
  EXPECT_LT(fs::file_size(left[0]), fs::file_size(straight_step(4)));
  expect_same_file(ckpt("run", "last.safetensors"), straight_step(2));
  EXPECT_EQ(state_step(ckpt("run", "last.state.safetensors")), 2);
  expect_inspect_loads("run/checkpoints/last.safetensors");
  expect_resume_matches_straight("run");  // and the leftover is removed
}

TEST_F(FaultInjection, DeathBetweenTheModelCheckpointAndTheStateResumesFromTheOlderState) {
  train_straight();
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=die:last.state:3"});
  ASSERT_TRUE(r.killed_by(SIGKILL)) << "status " << r.status << ": " << r.err;
  const std::vector<std::string> left = temp_files(path("run"));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_CONTAINS(left[0], "checkpoints/last.state.safetensors.tmp.");
  expect_same_file(ckpt("run", "last.safetensors"), straight_step(6));
  EXPECT_EQ(state_step(ckpt("run", "last.state.safetensors")), 4);
  EXPECT_EQ(tensor_difference(tensor_bytes(ckpt("run", "last.state.safetensors"), "model."),
                              tensor_bytes(straight_step(4))),
            "");
  expect_resume_matches_straight("run");
}

TEST_F(FaultInjection, DeathDuringTheFirstCheckpointLeavesNothingToResume) {
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=die:last.safetensors:1"});
  ASSERT_TRUE(r.killed_by(SIGKILL)) << "status " << r.status << ": " << r.err;
  EXPECT_FALSE(fs::exists(ckpt("run", "last.safetensors")));
  EXPECT_FALSE(fs::exists(ckpt("run", "last.state.safetensors")));
  const Exit resume = train({"--resume", "run"});
  EXPECT_TRUE(resume.exited_with(2)) << "status " << resume.status << ": " << resume.err;
  EXPECT_CONTAINS(resume.err, "error: --resume: run has no checkpoints/last.state.safetensors");
}

TEST_F(FaultInjection, InjectedDiskFullExitsWith1SayingSoAndThePreviousPairResumes) {
  train_straight();
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=enospc:last.state:3"});
  ASSERT_TRUE(r.exited_with(1)) << "status " << r.status << ": " << r.err;
  EXPECT_CONTAINS(r.err, "error: checkpoint failed: cannot write run/checkpoints/last.state.safetensors: "
                         "No space left on device");
  EXPECT_TRUE(temp_files(path("run")).empty());
  EXPECT_EQ(state_step(ckpt("run", "last.state.safetensors")), 4);
  expect_resume_matches_straight("run");
}

// Outside checkpoints too, a write that fails is the machine's failure, not the
// input's: exit 1, naming the file and the reason, and nothing half-written.
TEST_F(FaultInjection, AFailedWriteOfTheRunsConfigOrOfAnAverageExitsWith1) {
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=enospc:config.json:1"});
  ASSERT_TRUE(r.exited_with(1)) << "status " << r.status << ": " << r.err;
  EXPECT_CONTAINS(r.err, "error: cannot write run/config.json: No space left on device");
  EXPECT_FALSE(fs::exists(path("run/config.json")));
  EXPECT_TRUE(temp_files(path("run")).empty());
  train_straight();
  const Exit avg = run_tfm({"average", ckpt("straight", "step-00000006.safetensors"),
                            ckpt("straight", "step-00000008.safetensors"), "-o", "avg.safetensors"},
                           dir_.path(), {"TFM_FAULT_INJECT=write_fail:avg.safetensors:1"});
  ASSERT_TRUE(avg.exited_with(1)) << "status " << avg.status << ": " << avg.err;
  EXPECT_CONTAINS(avg.err, "avg.safetensors: Input/output error");
  EXPECT_FALSE(fs::exists(path("avg.safetensors")));
  // The directory missing is the user's path: exit 2.
  const Exit missing = run_tfm({"average", ckpt("straight", "step-00000008.safetensors"), "-o", "no/such/avg.safetensors"},
                               dir_.path());
  EXPECT_TRUE(missing.exited_with(2)) << "status " << missing.status << ": " << missing.err;
  EXPECT_CONTAINS(missing.err, "directory no/such does not exist");
}

TEST_F(FaultInjection, AMalformedHookIsAnErrorAndAFaultThatNeverComesDueChangesNothing) {
  for (const std::string spec :
       {"write_fail:last.safetensors", "die:last:0", "crash:last:1", "die::2", "enospc:x:2a"}) {
    SCOPED_TRACE(spec);
    const Exit r = train({"--out", "bad"}, {"TFM_FAULT_INJECT=" + spec});
    EXPECT_TRUE(r.exited_with(2)) << "status " << r.status << ": " << r.err;
    EXPECT_CONTAINS(r.err, "error: TFM_FAULT_INJECT=\"" + spec + "\": ");
    EXPECT_CONTAINS(r.err, "expected KIND:PATH_SUBSTRING:N");
  }
  // best.safetensors is written twice in 8 steps: a 3rd write never comes, and the run is the straight one.
  train_straight();
  const Exit r = train({"--out", "run"}, {"TFM_FAULT_INJECT=write_fail:best.safetensors:3"});
  ASSERT_TRUE(r.exited_with(0)) << "status " << r.status << ": " << r.err;
  expect_same_file(ckpt("run", "last.safetensors"), ckpt("straight", "last.safetensors"));
  expect_same_file(ckpt("run", "best.safetensors"), ckpt("straight", "best.safetensors"));
}

// A real full disk: a tmpfs sized to hold the run up to its first checkpoint pair and half a model
// checkpoint more, so that the write of step 4's last.safetensors runs out of space.
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir);
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64m") == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool resize(uint64_t bytes) {
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, ("size=" + std::to_string(bytes)).c_str()) == 0;
  }
  uint64_t used_bytes() const {
    struct statvfs s {};
    ::statvfs(dir_.c_str(), &s);
    return static_cast<uint64_t>(s.f_blocks - s.f_bfree) * s.f_frsize;
  }

 private:
  std::string dir_, error_;
  bool mounted_ = false;
};

TEST_F(FaultInjection, AFullTmpfsExitsWith1NamingTheSpaceAndThePreviousPairResumes) {
  TmpfsMount disk(path("disk"));
  if (!disk.mounted())
    GTEST_SKIP() << "cannot mount a tmpfs here (" << disk.error() << "; needs root or CAP_SYS_ADMIN)";
  train_straight();
  // What the run occupies after its first pair: the same run, stopped at step 2.
  train_ok({"--out", "disk/probe", "--set", "train.max_steps=2"});
  const uint64_t first_pair = disk.used_bytes();
  const uint64_t model_bytes = fs::file_size(ckpt("disk/probe", "last.safetensors"));
  fs::remove_all(path("disk/probe"));
  ASSERT_EQ(disk.used_bytes(), 0u);
  ASSERT_TRUE(disk.resize(first_pair + model_bytes / 2)) << std::strerror(errno);

  const Exit r = train({"--out", "disk/run"});
  ASSERT_TRUE(r.exited_with(1)) << "status " << r.status << ": " << r.err;
  EXPECT_CONTAINS(r.err, "error: checkpoint failed: cannot write disk/run/checkpoints/last.safetensors: "
                         "No space left on device");
  EXPECT_TRUE(temp_files(path("disk/run")).empty());
  expect_same_file(ckpt("disk/run", "last.safetensors"), straight_step(2));
  EXPECT_EQ(state_step(ckpt("disk/run", "last.state.safetensors")), 2);
  // With space again, the run resumes to the straight run's end.
  ASSERT_TRUE(disk.resize(64 << 20)) << std::strerror(errno);
  expect_resume_matches_straight("disk/run");
}

// ---- --resume with a broken training state -----------------------------------

std::string flip_byte(std::string bytes, size_t at) {
  bytes.at(at) = static_cast<char>(bytes.at(at) ^ 0x5a);
  return bytes;
}

uint64_t header_length(const std::string& file) {
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(file[i])) << (8 * i);
  return n;
}

TEST_F(FaultInjection, ResumeRefusesABrokenStateWithExit2AndOverwritesNothing) {
  train_straight();
  train_ok({"--out", "run", "--set", "train.max_steps=4"});
  // States of other runs: a wider model, and SGD (no Adam moments).
  train_ok({"--out", "wide", "--set", "train.max_steps=2", "--set", "model.d_model=32"});
  train_ok({"--out", "sgd", "--set", "train.max_steps=2", "--set", "optim.name=sgd"});
  const std::string state_file = ckpt("run", "last.state.safetensors"), model_file = ckpt("run", "last.safetensors");
  const std::string state = slurp(state_file), model = slurp(model_file);
  const uint64_t data_begin = 8 + header_length(state);
  ASSERT_LT(data_begin + 100, state.size());
  const size_t name_at = state.find("\"model.tok_emb.weight\"");
  ASSERT_NE(name_at, std::string::npos);

  struct Case {
    std::string what, file, bytes, expected;
  };
  const std::string state_rel = "run/checkpoints/last.state.safetensors";
  const std::vector<Case> cases = {
      // Needs the per-tensor CRC32C checksums of core/safetensors.h.
      {"a flipped byte in the tensor data", state_file, flip_byte(state, data_begin + (state.size() - data_begin) / 2),
       "is corrupted: CRC32C"},
      {"a flipped byte at the start of the header", state_file, flip_byte(state, 8), state_rel},
      {"a tensor renamed in the header", state_file, flip_byte(state, name_at + 8), state_rel},
      {"a header length beyond the file", state_file, flip_byte(state, 3), "header length"},
      {"the file cut in half", state_file, state.substr(0, state.size() / 2), state_rel},
      {"the file cut to 5 bytes", state_file, state.substr(0, 5), "not a safetensors file"},
      {"an empty file", state_file, "", "not a safetensors file"},
      {"the state of a wider model", state_file, slurp(ckpt("wide", "last.state.safetensors")), "expected shape"},
      {"the state of an SGD run", state_file, slurp(ckpt("sgd", "last.state.safetensors")), "optimizer state: missing"},
      {"a model checkpoint instead of the state", state_file, model, "not a tfm training state file"},
      {"a flipped byte in last.safetensors' data", model_file, flip_byte(model, model.size() - 9), "is corrupted"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    dir_.file(fs::relative(c.file, dir_.path()).string(), c.bytes);
    const std::map<std::string, uint64_t> before = file_hashes(path("run"));
    const Exit r = train({"--resume", "run"});
    EXPECT_TRUE(r.exited_with(2)) << "status " << r.status << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_CONTAINS(r.err, fs::relative(c.file, dir_.path()).string());
    EXPECT_CONTAINS(r.err, c.expected);
    EXPECT_EQ(file_hashes(path("run")), before) << "a refused --resume changed the run directory";
    dir_.file("run/checkpoints/last.state.safetensors", state);
    dir_.file("run/checkpoints/last.safetensors", model);
  }
  // Restored, the run resumes to the straight run's end.
  expect_resume_matches_straight("run");
}

}  // namespace
}  // namespace tfm
