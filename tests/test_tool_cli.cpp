// The tfm command line (tools/main.cpp), run as a real process: bad input of
// every kind ends with exit code 2 and a message on stderr that starts with
// "error: " and says what is wrong; --version, --help and `help config-keys` work.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/safetensors.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "tools/text/tokenizer.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

namespace fs = std::filesystem;

// Exit code 2, stderr "error: ..." naming what is wrong.
#define EXPECT_BAD_INPUT(run, needle)                                                             \
  do {                                                                                            \
    const ProcessResult _r = (run);                                                                         \
    EXPECT_EQ(_r.code, 2) << "stderr: " << _r.err;                                                \
    EXPECT_EQ(_r.err.rfind("error: ", 0), 0u) << "stderr does not start with \"error: \": " << _r.err; \
    EXPECT_CONTAINS(_r.err, needle);                                                              \
  } while (0)

std::string corpus() {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "the cat sat on the mat " + std::to_string(i % 7) + "\n";
  return text;
}

// A small valid training config over `train` (relative to the run's directory).
std::string config_json(const std::string& train, const std::string& train_section = R"("max_steps": 2)") {
  return R"({"model": {"type": "lm", "n_layer": 1, "n_head": 2, "d_model": 16, "seq_len": 16},
  "tokenizer": {"type": "char"},
  "data": {"train": [")" + train + R"("]},
  "train": {"batch_size": 2, "eval_batches": 1, "threads": 1, )" + train_section + "}}\n";
}

// A checkpoint of an untrained model built through the library (no training run needed).
std::string save_model(const TempDir& dir, const std::string& name, nlohmann::json model_config,
                       const std::string& tokenizer_type, const std::string& text) {
  TokenizerConfig tc;
  tc.type = tokenizer_type;
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::train(tc, text);
  model_config["vocab_size"] = tokenizer->vocab_size();
  std::unique_ptr<Model> model = ModelRegistry::create(model_config);
  Generator gen(5);
  model->init_weights(gen);
  const std::string path = dir.path(name);
  save_checkpoint(path, *model, tokenizer->to_json());
  return path;
}

nlohmann::json tiny_lm() { return {{"type", "lm"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 16}, {"seq_len", 16}}; }

TEST(ToolCli, VersionAndHelp) {
  TempDir dir;
  const ProcessResult version = tfm("--version", dir.path());
  EXPECT_EQ(version.code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("tfm ", 0), 0u) << version.out;

  const ProcessResult keys = tfm("help config-keys", dir.path());
  EXPECT_EQ(keys.code, 0) << keys.err;
  for (const char* key : {"batch_size", "d_model", "n_head", "seq_len", "warmup_steps", "skip_nonfinite", "val_fraction"})
    EXPECT_CONTAINS(keys.out, key);
  EXPECT_BAD_INPUT(tfm("help colours", dir.path()), "unknown help topic \"colours\"");

  const ProcessResult top = tfm("--help", dir.path());
  EXPECT_EQ(top.code, 0) << top.err;
  for (const char* cmd : {"train", "perplexity", "generate", "inspect", "report", "help"}) {
    EXPECT_CONTAINS(top.out, cmd);
    const ProcessResult sub = tfm(std::string(cmd) + " --help", dir.path());
    EXPECT_EQ(sub.code, 0) << cmd << ": " << sub.err;
    EXPECT_CONTAINS(sub.out, cmd);
    EXPECT_CONTAINS(sub.out, "Usage");
  }
}

TEST(ToolCli, UsageErrorsExitWith2) {
  TempDir dir;
  EXPECT_BAD_INPUT(tfm("", dir.path()), "subcommand is required");
  EXPECT_BAD_INPUT(tfm("frobnicate", dir.path()), "subcommand is required");
  EXPECT_BAD_INPUT(tfm("train", dir.path()), "config is required");
  EXPECT_BAD_INPUT(tfm("train cfg.json --no-such-flag", dir.path()), "--no-such-flag");
  EXPECT_BAD_INPUT(tfm("generate model.safetensors --tokens abc", dir.path()), "--tokens");
  EXPECT_BAD_INPUT(tfm("perplexity model.safetensors text.txt --batch-size 0", dir.path()), "--batch-size");
  EXPECT_BAD_INPUT(tfm("bench --peak --precision fp16", dir.path()), "--precision must be fp32 or bf16, found \"fp16\"");
  for (const char* cmd : {"perplexity model.safetensors text.txt", "generate model.safetensors", "translate model.safetensors"})
    EXPECT_BAD_INPUT(tfm(std::string(cmd) + " --precision fp16", dir.path()),
                     "--precision must be fp32, bf16 or auto, found \"fp16\"");
}

TEST(ToolCli, ConfigProblemsExitWith2) {
  TempDir dir;
  dir.file("corpus.txt", corpus());
  EXPECT_BAD_INPUT(tfm("train missing.json", dir.path()), "file not found: missing.json");
  fs::create_directory(dir.path("confdir"));
  EXPECT_BAD_INPUT(tfm("train confdir", dir.path()), "confdir is a directory, expected a file");
  dir.file("syntax.json", "{\n  \"model\": {\"type\": \"lm\",}\n}\n");
  EXPECT_BAD_INPUT(tfm("train syntax.json", dir.path()), "syntax.json:2:");
  dir.file("typo.json", config_json("corpus.txt", R"("max_steps": 2, "batchsize": 4)"));
  EXPECT_BAD_INPUT(tfm("train typo.json", dir.path()), "unknown key train.batchsize (did you mean train.batch_size?)");
  dir.file("ok.json", config_json("corpus.txt"));
  EXPECT_BAD_INPUT(tfm("train ok.json --set optim.lr_rate=0.1", dir.path()), "unknown key optim.lr_rate");
  EXPECT_BAD_INPUT(tfm("train ok.json --set train.batch_size=many", dir.path()),
                   "train.batch_size: expected an integer, found \"many\"");
  EXPECT_BAD_INPUT(tfm("train ok.json --set model.d_model=0", dir.path()), "model.d_model");
  EXPECT_BAD_INPUT(tfm("train ok.json --set model.n_layers=2", dir.path()), "did you mean model.n_layer?");
  EXPECT_BAD_INPUT(tfm("train ok.json --set model.type=transformer --out run", dir.path()),
                   "is an encoder-decoder: it trains on parallel data");
  // No run directory is left behind by a rejected config.
  EXPECT_FALSE(fs::exists(dir.path("run")));
}

TEST(ToolCli, DataProblemsExitWith2) {
  TempDir dir;
  dir.file("corpus.txt", corpus());
  dir.file("cfg.json", config_json("corpus.txt"));
  dir.file("empty.txt", "");
  EXPECT_BAD_INPUT(tfm("train cfg.json --set data.train=empty.txt", dir.path()), "data.train file empty.txt is empty");
  dir.file("short.txt", "tiny text\n");
  EXPECT_BAD_INPUT(tfm("train cfg.json --set data.train=short.txt", dir.path()),
                   "fewer than one sequence of model.seq_len + 1 = 17");
  fs::create_directory(dir.path("texts"));
  EXPECT_BAD_INPUT(tfm("train cfg.json --set data.train=texts", dir.path()), "texts is a directory, expected a file");
  EXPECT_BAD_INPUT(tfm("train cfg.json --set data.train=nothere.txt", dir.path()), "not found: nothere.txt");
  EXPECT_BAD_INPUT(tfm("train cfg.json --set 'data.train=texts/*.txt'", dir.path()), "no file matches texts/*.txt");
  dir.file("binary.txt", corpus() + "\xff\xfe");
  EXPECT_BAD_INPUT(tfm("train cfg.json --set data.train=binary.txt", dir.path()),
                   "invalid UTF-8 at byte offset " + std::to_string(corpus().size()));
  dir.file("short_val.txt", "the cat\n");
  EXPECT_BAD_INPUT(tfm("train cfg.json --set data.val=short_val.txt", dir.path()), "the validation text has 8 tokens");
}

TEST(ToolCli, WrongModelTypeForPerplexityAndGenerate) {
  TempDir dir;
  dir.file("text.txt", corpus());
  nlohmann::json seq2seq = {{"type", "transformer"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 16}, {"seq_len", 16}};
  const std::string ckpt = save_model(dir, "seq2seq.safetensors", seq2seq, "char", corpus());
  EXPECT_BAD_INPUT(tfm("perplexity seq2seq.safetensors text.txt", dir.path()),
                   "model type \"transformer\" is not a language model");
  EXPECT_BAD_INPUT(tfm("generate seq2seq.safetensors --prompt the --tokens 3", dir.path()),
                   "is not a language model (expected type \"lm\")");
  // inspect takes any model.
  const ProcessResult inspect = tfm("inspect seq2seq.safetensors", dir.path());
  EXPECT_EQ(inspect.code, 0) << inspect.err;
  EXPECT_CONTAINS(inspect.out, "\"type\":\"transformer\"");
  EXPECT_CONTAINS(inspect.out, "encoder.layers.0");
}

TEST(ToolCli, CorruptCheckpointsExitWith2) {
  TempDir dir;
  dir.file("text.txt", corpus());
  const std::string good = save_model(dir, "good.safetensors", tiny_lm(), "char", corpus());
  const std::string bytes = [&] {
    std::ifstream in(good, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  dir.file("truncated.safetensors", bytes.substr(0, bytes.size() / 2));
  dir.file("garbage.safetensors", "this is not a checkpoint at all");
  dir.file("empty.safetensors", "");
  std::string flipped = bytes;
  flipped[8] = '!';  // the header's opening '{'
  dir.file("bad_header.safetensors", flipped);
  save_safetensors(dir.path("plain.safetensors"), {{"w", Tensor::zeros({2, 2})}}, {});
  for (const char* cmd : {"perplexity %s text.txt", "generate %s --tokens 3", "inspect %s"}) {
    auto with = [&](const std::string& file) {
      std::string c = cmd;
      return c.replace(c.find("%s"), 2, file);
    };
    EXPECT_BAD_INPUT(tfm(with("truncated.safetensors"), dir.path()), "truncated.safetensors: ");
    EXPECT_BAD_INPUT(tfm(with("garbage.safetensors"), dir.path()), "garbage.safetensors: header length");
    EXPECT_BAD_INPUT(tfm(with("empty.safetensors"), dir.path()), "not a safetensors file");
    EXPECT_BAD_INPUT(tfm(with("bad_header.safetensors"), dir.path()), "is not valid JSON");
    EXPECT_BAD_INPUT(tfm(with("plain.safetensors"), dir.path()), "not a tfm checkpoint");
    EXPECT_BAD_INPUT(tfm(with("missing.safetensors"), dir.path()), "file not found: missing.safetensors");
    EXPECT_BAD_INPUT(tfm(with("."), dir.path()), "is a directory");
  }
  const ProcessResult ok = tfm("inspect good.safetensors", dir.path());
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_CONTAINS(ok.out, "tok_emb.weight");
  EXPECT_CONTAINS(ok.out, "parameters:");
}

TEST(ToolCli, PromptOutsideACharVocabularyIsAnErrorButAWordTokenizerUsesUnk) {
  TempDir dir;
  save_model(dir, "char.safetensors", tiny_lm(), "char", corpus());
  save_model(dir, "word.safetensors", tiny_lm(), "word", corpus());
  EXPECT_BAD_INPUT(tfm("generate char.safetensors --prompt 'the QUICK' --tokens 3", dir.path()),
                   "character \"Q\" at byte offset 4 is not in the vocabulary");
  const ProcessResult word = tfm("generate word.safetensors --prompt 'the zebra' --tokens 5 --seed 3", dir.path());
  EXPECT_EQ(word.code, 0) << word.err;
  EXPECT_EQ(word.out.rfind("the zebra", 0), 0u) << word.out;
  const ProcessResult chars = tfm("generate char.safetensors --prompt 'the ' --tokens 5 --seed 3", dir.path());
  EXPECT_EQ(chars.code, 0) << chars.err;
  EXPECT_EQ(chars.out.size(), std::string("the ").size() + 5 + 1) << chars.out;  // prompt, 5 characters, newline
  // Sampling options are checked.
  EXPECT_BAD_INPUT(tfm("generate char.safetensors --top-p 0", dir.path()), "--top-p must be in (0, 1]");
  EXPECT_BAD_INPUT(tfm("generate char.safetensors --temperature=-1", dir.path()), "--temperature must be >= 0");
}

TEST(ToolCli, PerplexityTextProblemsExitWith2) {
  TempDir dir;
  save_model(dir, "char.safetensors", tiny_lm(), "char", corpus());
  dir.file("empty.txt", "");
  dir.file("one.txt", "t");
  dir.file("foreign.txt", "the cat sat on the mat 1\nthe dog\n");
  EXPECT_BAD_INPUT(tfm("perplexity char.safetensors empty.txt", dir.path()), "empty.txt is empty");
  EXPECT_BAD_INPUT(tfm("perplexity char.safetensors one.txt", dir.path()), "at least 2 are needed");
  EXPECT_BAD_INPUT(tfm("perplexity char.safetensors foreign.txt", dir.path()),
                   "character \"d\" at byte offset 29 is not in the vocabulary");
  EXPECT_BAD_INPUT(tfm("perplexity char.safetensors nothere.txt", dir.path()), "file not found: nothere.txt");
}

TEST(ToolCli, ResumeProblemsExitWith2) {
  TempDir dir;
  dir.file("corpus.txt", corpus());
  dir.file("cfg.json", config_json("corpus.txt"));
  EXPECT_BAD_INPUT(tfm("train cfg.json --resume nowhere", dir.path()), "--resume: nowhere does not exist");
  fs::create_directory(dir.path("not_a_run"));
  EXPECT_BAD_INPUT(tfm("train cfg.json --resume not_a_run", dir.path()), "has no checkpoints/last.state.safetensors");
  // Weights of another architecture.
  nlohmann::json wider = tiny_lm();
  wider["d_model"] = 32;
  save_model(dir, "wider.safetensors", wider, "char", corpus());
  EXPECT_BAD_INPUT(tfm("train cfg.json --resume wider.safetensors --out run", dir.path()), "expected shape");
}

}  // namespace
}  // namespace tfm
