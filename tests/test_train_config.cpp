// The training config (tools/train/train_config.h): defaults, every kind of error
// (unknown key with a suggestion, wrong type, out of range, JSON syntax with
// line:column, missing data.train) and --set overrides under the same checks;
// an optimizer and a schedule registered from this file, as a user's own code
// would, are picked by name and configured through the config; every shipped
// configs/*.json parses and resolves its model.
#include "tools/train/train_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/model.h"
#include "test_util.h"
#include "tools/train/config_help.h"

namespace tfm {
namespace {
using namespace tfm::testing;

namespace fs = std::filesystem;

nlohmann::json minimal() {
  return {{"model", {{"type", "lm"}, {"d_model", 32}}}, {"data", {{"train", {"corpus.txt"}}}}};
}

// The error TrainConfig::parse gives for the minimal config with `section.key` set to value.
std::string parse_error_with(const std::string& section, const std::string& key, const nlohmann::json& value) {
  nlohmann::json j = minimal();
  j[section][key] = value;
  return error_message([&] { TrainConfig::parse(j); });
}

TEST(TrainConfig, MinimalConfigGetsTheDocumentedDefaults) {
  const TrainConfig c = TrainConfig::parse(minimal());
  EXPECT_EQ(c.model["d_model"], 32);
  EXPECT_EQ(c.tokenizer.type, "char");
  EXPECT_EQ(c.data.train, std::vector<std::string>{"corpus.txt"});
  EXPECT_TRUE(c.data.val.empty());
  EXPECT_DOUBLE_EQ(c.data.val_fraction, 0.1);
  EXPECT_EQ(c.optim.optimizer.name, "adamw");
  EXPECT_DOUBLE_EQ(c.optim.optimizer.lr, 1e-3);
  EXPECT_DOUBLE_EQ(c.optim.optimizer.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c.optim.optimizer.beta2, 0.999);
  EXPECT_DOUBLE_EQ(c.optim.schedule.lr, c.optim.optimizer.lr);
  EXPECT_EQ(c.optim.schedule.name, "constant");
  EXPECT_DOUBLE_EQ(c.optim.grad_clip, 1.0);
  EXPECT_EQ(c.train.batch_size, 12);
  EXPECT_EQ(c.train.max_steps, 5000);
  EXPECT_EQ(c.train.seed, 1337u);
  EXPECT_FALSE(c.train.skip_nonfinite);
  // A single string is accepted for a list of files.
  nlohmann::json j = minimal();
  j["data"]["train"] = "one.txt";
  EXPECT_EQ(TrainConfig::parse(j).data.train, std::vector<std::string>{"one.txt"});
}

TEST(TrainConfig, ResolvedConfigHasEveryKeyAndParsesToItself) {
  const TrainConfig c = TrainConfig::parse(minimal());
  for (const char* section : {"model", "tokenizer", "data", "optim", "train"}) EXPECT_TRUE(c.resolved.contains(section));
  EXPECT_EQ(c.resolved["optim"]["warmup_steps"], 0);
  EXPECT_EQ(c.resolved["train"]["checkpoint_every"], 500);
  EXPECT_EQ(c.resolved["optim"]["betas"], nlohmann::json({0.9, 0.999}));
  EXPECT_EQ(TrainConfig::parse(c.resolved).resolved, c.resolved);
  // Every key of the typed sections is documented in `tfm help config-keys`.
  const std::string help = config_keys_help();
  for (const char* section : {"tokenizer", "data", "optim", "train"})
    for (auto& [key, value] : c.resolved[section].items())
      EXPECT_NE(help.find("  " + key + " "), std::string::npos) << section << "." << key << " is not documented";
}

// train.ema: a bare decay (from the first step), an object, or null (off, the default); train.z_loss;
// optim.schedule "wsd" with its own keys, checked at parse time rather than at the first step.
TEST(TrainConfig, RecipeKeysParseResolveAndNameTheirErrors) {
  const TrainConfig off = TrainConfig::parse(minimal());
  EXPECT_FALSE(off.train.ema.enabled());
  EXPECT_TRUE(off.resolved["train"]["ema"].is_null());
  EXPECT_EQ(off.resolved["train"]["z_loss"], 0.0);
  nlohmann::json j = minimal();
  j["train"]["ema"] = 0.99;
  j["train"]["z_loss"] = 1e-4;
  j["optim"] = {{"schedule", "wsd"}, {"decay_fraction", 0.1}, {"decay_shape", "sqrt"}};
  const TrainConfig c = TrainConfig::parse(j);
  EXPECT_EQ(c.train.ema.decay, 0.99);
  EXPECT_EQ(c.train.ema.start, 0);
  EXPECT_EQ(c.train.z_loss, 1e-4);
  EXPECT_EQ(c.resolved["train"]["ema"], (nlohmann::json{{"decay", 0.99}, {"start", 0}}));
  EXPECT_EQ(c.optim.schedule.options, (nlohmann::json{{"decay_fraction", 0.1}, {"decay_shape", "sqrt"}}));
  EXPECT_EQ(TrainConfig::parse(c.resolved).resolved, c.resolved);
  j["train"]["ema"] = {{"decay", 0.999}, {"start", 1000}};
  EXPECT_EQ(TrainConfig::parse(j).train.ema.start, 1000);
  EXPECT_CONTAINS(parse_error_with("train", "ema", 1.0), "train.ema.decay must be in (0, 1), found 1");
  EXPECT_CONTAINS(parse_error_with("train", "ema", "yes"), "config: train.ema: expected a decay (0.999)");
  EXPECT_CONTAINS(parse_error_with("train", "ema", {{"decay", 0.9}, {"begin", 5}}), "unknown key train.ema.begin");
  EXPECT_CONTAINS(parse_error_with("train", "ema", {{"start", -1}}), "train.ema.start: -1 is out of range");
  EXPECT_CONTAINS(parse_error_with("train", "z_loss", -0.1), "train.z_loss: -0.1 is out of range");
  j["optim"]["decay_shape"] = "exponential";
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "optim.decay_shape");
  j["optim"] = {{"schedule", "cosine"}, {"decay_fraction", 0.1}};  // a wsd key under another schedule
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "unknown key optim.decay_fraction");
}

TEST(TrainConfig, UnknownKeysNameTheKeyAndSuggestTheNearest) {
  EXPECT_CONTAINS(parse_error_with("train", "batchsize", 8),
                  "config: unknown key train.batchsize (did you mean train.batch_size?)");
  EXPECT_CONTAINS(parse_error_with("optim", "lr_rate", 0.1), "config: unknown key optim.lr_rate (did you mean optim.lr?)");
  EXPECT_CONTAINS(parse_error_with("optim", "warmup", 10), "unknown key optim.warmup (did you mean optim.warmup_steps?)");
  EXPECT_CONTAINS(parse_error_with("optim", "weight_dacay", 0.1), "(did you mean optim.weight_decay?)");
  EXPECT_CONTAINS(parse_error_with("tokenizer", "vocab", 100), "(did you mean tokenizer.vocab_size?)");
  EXPECT_CONTAINS(parse_error_with("data", "valid", "v.txt"), "unknown key data.valid (did you mean data.val?)");
  nlohmann::json top = minimal();
  top["trian"] = {{"max_steps", 5}};
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(top); }), "config: unknown key trian (did you mean train?)");
  // Nothing close: no suggestion.
  const std::string far = parse_error_with("train", "completely_unrelated", 1);
  EXPECT_CONTAINS(far, "unknown key train.completely_unrelated");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
}

TEST(TrainConfig, WrongTypesNameTheKeyAndTheValue) {
  EXPECT_CONTAINS(parse_error_with("train", "batch_size", "12"), "config: train.batch_size: expected an integer, found \"12\"");
  EXPECT_CONTAINS(parse_error_with("train", "batch_size", 2.5), "train.batch_size: expected an integer, found 2.5");
  EXPECT_CONTAINS(parse_error_with("train", "batch_size", true), "train.batch_size: expected an integer, found true");
  EXPECT_CONTAINS(parse_error_with("optim", "lr", "fast"), "config: optim.lr: expected a number, found \"fast\"");
  EXPECT_CONTAINS(parse_error_with("train", "skip_nonfinite", 1), "train.skip_nonfinite: expected true or false, found 1");
  EXPECT_CONTAINS(parse_error_with("data", "train", 5), "data.train: expected a string or a list of strings, found 5");
  EXPECT_CONTAINS(parse_error_with("data", "train", nlohmann::json::array({"a.txt", 3})), "data.train: expected strings, found 3");
  EXPECT_CONTAINS(parse_error_with("optim", "betas", 0.9), "optim.betas: expected a list of numbers, found 0.9");
  EXPECT_CONTAINS(parse_error_with("tokenizer", "type", 3), "tokenizer.type: expected a string, found 3");
  nlohmann::json j = minimal();
  j["optim"] = "adam";
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "config: optim must be a JSON object, found \"adam\"");
  j = minimal();
  j["model"] = 5;
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "section \"model\" is missing or not an object");
}

TEST(TrainConfig, OutOfRangeValuesNameTheRange) {
  EXPECT_CONTAINS(parse_error_with("optim", "lr", -1), "config: optim.lr: -1 is out of range [0, 100]");
  EXPECT_CONTAINS(parse_error_with("train", "batch_size", 0), "config: train.batch_size: 0 is out of range [1, 1048576]");
  EXPECT_CONTAINS(parse_error_with("data", "val_fraction", 0.9), "data.val_fraction: 0.9 is out of range [0, 0.5]");
  EXPECT_CONTAINS(parse_error_with("optim", "betas", nlohmann::json::array({0.9, 1.5})),
                  "optim.betas: 1.5 is out of range [0, 0.999999]");
  EXPECT_CONTAINS(parse_error_with("optim", "betas", nlohmann::json::array({0.9})), "optim.betas: expected two numbers, found 1");
  EXPECT_CONTAINS(parse_error_with("optim", "grad_accum", 0), "optim.grad_accum: 0 is out of range [1, 65536]");
  EXPECT_CONTAINS(parse_error_with("tokenizer", "type", "bpe"),
                  "config: tokenizer.type: unknown tokenizer \"bpe\" (one of: byte, char, sentencepiece, word)");
  EXPECT_CONTAINS(parse_error_with("optim", "schedule", "cosin"), "(did you mean \"cosine\"?)");
  EXPECT_CONTAINS(parse_error_with("optim", "schedule", "cosin"), "config: optim.schedule: unknown schedule \"cosin\"");
  EXPECT_CONTAINS(parse_error_with("optim", "name", "adamx"), "config: optim.name: unknown optimizer \"adamx\" (one of: adam, adamw, sgd");
  // Settings that contradict each other.
  EXPECT_CONTAINS(parse_error_with("optim", "nesterov", true), "optim.nesterov needs optim.momentum > 0");
  EXPECT_CONTAINS(parse_error_with("train", "max_steps", 0), "set train.max_steps or train.max_time");
  EXPECT_CONTAINS(parse_error_with("data", "val_fraction", 0), "data.val (files) or data.val_fraction > 0");
}

TEST(TrainConfig, MissingTrainingDataIsAnError) {
  nlohmann::json j = minimal();
  j.erase("data");
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "data.train: at least one training file is required");
  j["data"] = {{"train", nlohmann::json::array()}};
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "data.train: at least one training file is required");
  j["data"] = {{"val", {"v.txt"}}};
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "data.train: at least one training file is required");
  j = minimal();
  j.erase("model");
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "section \"model\" is missing");
}

TEST(TrainConfigFile, JsonSyntaxErrorsGiveFileLineAndColumn) {
  TempDir dir;
  // Line 3, column 30: the second ']' where a '}' or ',' should be.
  const std::string path =
      dir.file("cfg.json", "{\n  \"model\": {\"type\": \"lm\"},\n  \"data\": {\"train\": [\"a.txt\"]]\n}\n");
  EXPECT_CONTAINS(error_message([&] { load_config(path, {}); }), path + ":3:30: JSON syntax error");
  // A missing comma: the error is on the line of the next key.
  const std::string comma = dir.file("comma.json", "{\n  \"model\": {\"type\": \"lm\"}\n  \"data\": {}\n}\n");
  EXPECT_CONTAINS(error_message([&] { load_config(comma, {}); }), comma + ":3:");
  const std::string trailing = dir.file("trailing.json", "{\"model\": {\"type\": \"lm\",}}");
  EXPECT_CONTAINS(error_message([&] { load_config(trailing, {}); }), trailing + ":1:");
  const std::string array = dir.file("array.json", "[1, 2]");
  EXPECT_CONTAINS(error_message([&] { load_config(array, {}); }), array + ": the config must be a JSON object");
  EXPECT_CONTAINS(error_message([&] { load_config(dir.path() + "/missing.json", {}); }), "file not found: ");
  EXPECT_CONTAINS(error_message([&] { load_config(dir.path(), {}); }), "is a directory");
}

TEST(TrainConfigFile, SetOverridesNumbersStringsArraysAndNestedPaths) {
  TempDir dir;
  const std::string path = dir.file("cfg.json", minimal().dump(2));
  const nlohmann::json j = load_config(path, {"train.batch_size=32", "optim.schedule=cosine", "optim.betas=[0.8,0.95]",
                                              "model.d_model=64", "tokenizer.model_type=unigram",
                                              "tokenizer.type=\"word\"", "optim.lr=3e-4", "train.skip_nonfinite=true",
                                              "train.log_every=5", "train.log_every=6"});
  EXPECT_TRUE(j["train"]["batch_size"].is_number_integer());
  const TrainConfig c = TrainConfig::parse(j);
  EXPECT_EQ(c.train.batch_size, 32);
  EXPECT_EQ(c.optim.schedule.name, "cosine");
  EXPECT_DOUBLE_EQ(c.optim.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(c.optim.optimizer.beta2, 0.95);
  EXPECT_EQ(c.model["d_model"], 64);
  EXPECT_EQ(c.model["type"], "lm");  // siblings in the section are kept
  EXPECT_EQ(c.tokenizer.model_type, "unigram");
  EXPECT_EQ(c.tokenizer.type, "word");
  EXPECT_DOUBLE_EQ(c.optim.optimizer.lr, 3e-4);
  EXPECT_TRUE(c.train.skip_nonfinite);
  EXPECT_EQ(c.train.log_every, 6);  // the last one wins

  // Nested paths create the objects they need; the value may contain '='.
  nlohmann::json k = minimal();
  apply_override(k, "model.ffn.options.width=3");
  apply_override(k, "data.val=a=b");
  EXPECT_EQ(k["model"]["ffn"]["options"]["width"], 3);
  EXPECT_EQ(k["data"]["val"], "a=b");
  apply_override(k, "data.train=[\"x.txt\",\"y.txt\"]");
  EXPECT_EQ(TrainConfig::parse(k).data.train, (std::vector<std::string>{"x.txt", "y.txt"}));
}

TEST(TrainConfigFile, SetOverridesAreValidatedLikeTheFile) {
  TempDir dir;
  const std::string path = dir.file("cfg.json", minimal().dump());
  auto parse_with = [&](const std::string& set) {
    return error_message([&] { TrainConfig::parse(load_config(path, {set})); });
  };
  EXPECT_CONTAINS(parse_with("train.batchsize=3"), "unknown key train.batchsize (did you mean train.batch_size?)");
  EXPECT_CONTAINS(parse_with("train.batch_size=abc"), "train.batch_size: expected an integer, found \"abc\"");
  EXPECT_CONTAINS(parse_with("optim.lr=-1"), "optim.lr: -1 is out of range [0, 100]");
  EXPECT_CONTAINS(parse_with("optim.betas=[0.9]"), "optim.betas: expected two numbers, found 1");
  EXPECT_CONTAINS(parse_with("train=5"), "config: train must be a JSON object, found 5");
  EXPECT_CONTAINS(parse_with("optim.schedule=12"), "optim.schedule: expected a string, found 12");
  // Malformed assignments.
  EXPECT_CONTAINS(parse_with("train.batch_size"), "--set train.batch_size: expected key.path=value");
  EXPECT_CONTAINS(parse_with("=3"), "expected key.path=value");
  EXPECT_CONTAINS(parse_with("train..seed=3"), "empty key");
  EXPECT_CONTAINS(parse_with("model.d_model.width=3"), "is not an object");
}

// A user's optimizer: w -= lr * scale * g, with its own key optim.scale.
class ScaledSgd : public Optimizer {
 public:
  ScaledSgd(const NamedParameters& p, const OptimizerConfig& c)
      : Optimizer(p, c), scale_(c.options.value("scale", 0.5)) {}
  void step(double lr) override {
    ++steps_;
    for (auto& s : slots_)
      for (int64_t i = 0; i < s.param->numel(); ++i)
        s.param->mutable_data().data()[i] -= static_cast<float>(lr * scale_) * s.param->grad().data()[i];
  }

 private:
  double scale_;
};

// A user's schedule: lr * gamma^floor(step / every), with its own key optim.every.
class StepDecay : public Schedule {
 public:
  explicit StepDecay(const ScheduleConfig& s) : lr_(s.lr), every_(s.options.value("every", 10)) {}
  double rate(int64_t step) const override { return lr_ * std::pow(0.5, static_cast<double>(step / every_)); }

 private:
  double lr_;
  int64_t every_;
};

TFM_REGISTER_OPTIMIZER(
    "test-scaled-sgd", [](const NamedParameters& p, const OptimizerConfig& c) -> std::unique_ptr<Optimizer> {
      return std::make_unique<ScaledSgd>(p, c);
    },
    "plain SGD with a scaled step (registered by a test)", {{"scale", "number", "0.5", "step scale"}});
TFM_REGISTER_SCHEDULE(
    "test-step-decay", [](const ScheduleConfig& s) -> std::unique_ptr<Schedule> { return std::make_unique<StepDecay>(s); },
    "halves lr every `every` steps (registered by a test)", {{"every", "int", "10", "steps between halvings"}});

TEST(TrainConfig, OptimizerAndScheduleRegisteredOutsideTfmArePickedByName) {
  nlohmann::json j = minimal();
  j["optim"] = {{"name", "test-scaled-sgd"}, {"scale", 0.25}, {"schedule", "test-step-decay"}, {"every", 3}, {"lr", 0.1}};
  const TrainConfig c = TrainConfig::parse(j);
  EXPECT_EQ(c.optim.optimizer.name, "test-scaled-sgd");
  EXPECT_EQ(c.optim.optimizer.options, nlohmann::json({{"scale", 0.25}}));
  EXPECT_EQ(c.optim.schedule.name, "test-step-decay");
  EXPECT_EQ(c.optim.schedule.options, nlohmann::json({{"every", 3}}));
  EXPECT_EQ(c.resolved["optim"]["scale"], 0.25);
  EXPECT_EQ(TrainConfig::parse(c.resolved).resolved, c.resolved);

  // What the trainer does with them: the user's classes, with the user's settings.
  EXPECT_DOUBLE_EQ(learning_rate(c.optim.schedule, 2), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c.optim.schedule, 7), 0.025);
  Variable w(Tensor::zeros({3}), true);
  w.ensure_grad().data()[1] = 2.0f;
  auto optimizer = make_optimizer({{"w", &w}}, c.optim.optimizer);
  ASSERT_NE(dynamic_cast<ScaledSgd*>(optimizer.get()), nullptr);
  optimizer->step(learning_rate(c.optim.schedule, 1));
  EXPECT_FLOAT_EQ(w.data().data()[1], -0.05f);  // 0 - 0.1 * 0.25 * 2

  // Their keys belong to them: another optimizer does not take optim.scale.
  EXPECT_CONTAINS(parse_error_with("optim", "scale", 0.25), "config: unknown key optim.scale");
  // Unknown names list every registered one, the user's included.
  EXPECT_CONTAINS(parse_error_with("optim", "name", "lamb"),
                  "config: optim.name: unknown optimizer \"lamb\" (one of: adam, adamw, sgd, test-scaled-sgd)");
  EXPECT_CONTAINS(parse_error_with("optim", "schedule", "test-step-decai"), "(did you mean \"test-step-decay\"?)");
  // And `tfm help config-keys` documents them from their entries.
  const std::string help = config_keys_help();
  EXPECT_CONTAINS(help, "optim (\"name\": \"test-scaled-sgd\"): plain SGD with a scaled step");
  EXPECT_CONTAINS(help, "  every             int     10      steps between halvings");
}

}  // namespace
}  // namespace tfm

namespace tfm {
namespace {

// Label smoothing and z-loss need every row's whole-vocabulary scores: with the
// adaptive head, the config is refused when it is read, not at the first step.
TEST(TrainConfigErrors, LossOptionsTheHeadCannotHonourAreRefusedAtLoad) {
  nlohmann::json j = minimal();
  j["model"]["head"] = {{"type", "adaptive"}, {"cutoffs", {100}}};
  j["model"]["tie_embeddings"] = false;
  EXPECT_NO_THROW(TrainConfig::parse(j));
  j["optim"]["label_smoothing"] = 0.1;
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }),
                  "optim.label_smoothing = 0.1 needs a head that scores the whole vocabulary; model.head \"adaptive\"");
  j["optim"]["label_smoothing"] = 0.0;
  j["train"]["z_loss"] = 1e-4;
  EXPECT_CONTAINS(error_message([&] { TrainConfig::parse(j); }), "set train.z_loss to 0");
  j["model"]["head"] = "linear";  // scores the whole vocabulary: both allowed
  j["optim"]["label_smoothing"] = 0.1;
  EXPECT_NO_THROW(TrainConfig::parse(j));
}

// Every config the project ships (configs/*.json) loads, passes TrainConfig's
// checks and resolves as its model (the vocabulary, which the tool sets from
// the tokenizer, given here): a key renamed or a value out of range in a
// shipped recipe fails here rather than at a user's first `tfm train`.
TEST(ShippedConfigs, EveryConfigParsesAndResolvesItsModel) {
  const fs::path dir = fs::path(TFM_SOURCE_DIR) / "configs";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    nlohmann::json j;
    ASSERT_NO_THROW(j = load_config(entry.path().string(), {}));
    ASSERT_NO_THROW(TrainConfig::parse(j));
    nlohmann::json model = j.at("model");
    model["vocab_size"] = 40000;  // above every shipped adaptive cutoff
    EXPECT_NO_THROW(ModelRegistry::resolve(model));
    ++checked;
  }
  EXPECT_GE(checked, 8);  // the configs shipped when this test was written
}

}  // namespace
}  // namespace tfm
