// `tfm prepare` end to end, as a real process: help and bad input, prepared
// then up to date, `tfm train` mapping what it prepared (and training exactly
// as a run that prepared on its own), and crash safety: a prepare killed or
// failing part-way through a write leaves nothing a later run trusts.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;
namespace fs = std::filesystem;

// Runs `ENV tfm ARGS` in cwd through the shell; the exit code (128 + N when killed by signal N).
ProcessResult tfm_env(const std::string& env, const std::string& args, const std::string& cwd) {
  const std::string out = cwd + "/.stdout", err = cwd + "/.stderr";
  const std::string cmd = "cd '" + cwd + "' && " + env + " timeout 120 '" + std::string(TFM_EXE) + "' " + args +
                          " >'" + out + "' 2>'" + err + "' </dev/null";
  const int status = std::system(cmd.c_str());
  ProcessResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

nlohmann::json config(const std::string& cache_dir) {
  return {{"model", {{"type", "lm"}, {"n_layer", 1}, {"d_model", 16}, {"n_head", 2}, {"seq_len", 16}}},
          {"tokenizer", {{"type", "char"}}},
          {"data", {{"train", {"corpus.txt"}}, {"cache_dir", cache_dir}}},
          {"train", {{"batch_size", 4}, {"max_steps", 6}, {"eval_every", 3}, {"eval_batches", 2}, {"threads", 1}}}};
}

class ToolPrepare : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.file("corpus.txt", word_corpus(20000, 8));
    dir_.file("cfg.json", config("cache").dump());
  }
  ProcessResult run(const std::string& args, const std::string& env = "") { return tfm_env(env, args, dir_.path()); }
  // The cache's files whose names end with `suffix`, or contain it when it ends with a dot.
  std::vector<std::string> cache_files(const std::string& suffix) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_.path("cache"), ec)) {
      const std::string name = e.path().filename().string();
      const bool match = suffix.back() == '.' ? name.find(suffix) != std::string::npos
                                              : name.size() >= suffix.size() && name.ends_with(suffix);
      if (match) out.push_back(e.path().string());
    }
    return out;
  }
  TempDir dir_;
};

TEST_F(ToolPrepare, HelpAndBadInput) {
  ProcessResult r = run("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_CONTAINS(r.out, "prepare");
  r = run("prepare --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_CONTAINS(r.out, "Tokenize a config's text data once");
  EXPECT_CONTAINS(r.out, "--set");
  EXPECT_EQ(run("prepare").code, 2);
  r = run("prepare missing.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.err, "error: file not found: missing.json");
  r = run("prepare cfg.json --set data.cache_dirr=x");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.err, "unknown key data.cache_dirr");
  r = run("prepare cfg.json --set data.train=nope.txt");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.err, "data file not found: nope.txt");
  nlohmann::json parallel = config("cache");
  parallel["data"] = {{"train", {{"source", "corpus.txt"}, {"target", "corpus.txt"}}},
                      {"val", {{"source", "corpus.txt"}, {"target", "corpus.txt"}}},
                      {"cache_dir", "cache"}};
  dir_.file("parallel.json", parallel.dump());
  r = run("prepare parallel.json");
  EXPECT_EQ(r.code, 2);
  EXPECT_CONTAINS(r.err, "data.cache_dir applies to text data only");
  parallel["data"].erase("cache_dir");
  dir_.file("parallel.json", parallel.dump());
  EXPECT_CONTAINS(run("prepare parallel.json").err, "tfm prepare prepares text data");
  EXPECT_FALSE(fs::exists(dir_.path("cache")));
}

TEST_F(ToolPrepare, PreparesThenIsUpToDateAndTrainMapsTheFile) {
  ProcessResult r = run("prepare cfg.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "data.train: prepared 20");
  EXPECT_CONTAINS(r.out, " tokens (uint16) from 1 file of 0.0 MB in ");
  EXPECT_CONTAINS(r.out, "data.val: the last ");
  EXPECT_CONTAINS(r.out, "tokenizer: char, 28 ids (trained on data.train)");
  EXPECT_CONTAINS(r.err, "(not prepared yet)");
  r = run("prepare cfg.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "data.train: up to date, 20");
  EXPECT_CONTAINS(r.out, "tokenizer: char, 28 ids (from the cache)");
  r = run("train cfg.json --out run");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "data.train: up to date, 20");
  EXPECT_EQ(r.err.find("preparing"), std::string::npos) << r.err;
  // --set reaches the config: another cache directory is prepared anew.
  r = run("prepare cfg.json --set data.cache_dir=other --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "data.train: prepared");
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(fs::is_directory(dir_.path("other")));
}

TEST_F(ToolPrepare, TrainingFromPreparedTokensIsTheRunThatPreparedThemItself) {
  ASSERT_EQ(run("train cfg.json --quiet --out first").code, 0);  // prepares while it starts
  ASSERT_EQ(run("train cfg.json --quiet --out second").code, 0);  // maps what the first prepared
  const SafetensorsContents a = load_safetensors(dir_.path("first/checkpoints/last.safetensors"));
  const SafetensorsContents b = load_safetensors(dir_.path("second/checkpoints/last.safetensors"));
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i)
    EXPECT_EQ(std::memcmp(a.tensors[i].second.raw_data(), b.tensors[i].second.raw_data(), a.tensors[i].second.nbytes()),
              0)
        << a.tensors[i].first;
}

TEST_F(ToolPrepare, AKilledOrFailedWriteLeavesNothingALaterRunTrusts) {
  // Killed half-way through the token file: no manifest, only the temporary file.
  ProcessResult r = run("prepare cfg.json", "TFM_FAULT_INJECT=die:.train.tokens:1");
  EXPECT_EQ(r.code, 128 + 9) << r.err;
  EXPECT_TRUE(cache_files(".manifest.json").empty());
  EXPECT_EQ(cache_files(".train.tokens.tmp.").size(), 1u);
  r = run("prepare cfg.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.out, "data.train: prepared");
  EXPECT_TRUE(cache_files(".tmp.").empty());  // the dead process's temporary file is gone
  // Sources change; the rebuild is killed while writing the manifest: the old manifest was
  // removed first, so the new token file without one is not trusted either.
  std::ofstream(dir_.path("corpus.txt"), std::ios::app) << "one more line\n";
  r = run("prepare cfg.json", "TFM_FAULT_INJECT=die:.train.manifest.json:1");
  EXPECT_EQ(r.code, 128 + 9) << r.err;
  EXPECT_TRUE(cache_files(".manifest.json").empty());
  // A write that fails (I/O error) is a runtime failure (exit 1) that leaves no file behind.
  r = run("prepare cfg.json", "TFM_FAULT_INJECT=write_fail:.train.tokens:1");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_CONTAINS(r.err, "Input/output error (injected by TFM_FAULT_INJECT=write_fail:.train.tokens:1)");
  EXPECT_TRUE(cache_files(".manifest.json").empty());
  r = run("prepare cfg.json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_CONTAINS(r.err, "(not prepared yet)");
  EXPECT_CONTAINS(r.out, "data.train: prepared");
  EXPECT_CONTAINS(run("prepare cfg.json").out, "data.train: up to date");
  EXPECT_EQ(run("train cfg.json --quiet --out run").code, 0);
}

}  // namespace
}  // namespace tfm
