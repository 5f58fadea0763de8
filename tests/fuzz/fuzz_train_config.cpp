// The training config as `tfm train CONFIG --set KEY=VALUE ...` reads it: the
// input is the config text, then, after a line "--set", one override per line;
// load_config, TrainConfig::parse, and the model built from the model section
// as the trainer builds it (a vocab_size from the tokenizer when absent), within
// 64 MiB so that a valid but huge model ends in tfm::Error, not an allocation.
// The resolved config (the run's config.json) must parse to itself, and a
// model's config() must rebuild the same model (checkpoints rely on both).
#include "core/allocator.h"
#include "fuzz.h"
#include "models/model.h"
#include "tools/train/train_config.h"

namespace tfm::fuzz {

void train_config(std::string_view input) {
  std::string_view text = input, rest;
  if (input.starts_with("--set\n")) text = {}, rest = input.substr(6);
  else std::tie(text, rest) = split_once(input, "\n--set\n");
  std::vector<std::string> overrides;
  while (!rest.empty()) {
    auto [line, tail] = split_once(rest, "\n");
    overrides.emplace_back(line);
    rest = tail;
  }
  const nlohmann::json j = load_config(scratch_file("config.json", text), overrides);
  const TrainConfig config = TrainConfig::parse(j);
  TrainConfig again;
  try {
    again = TrainConfig::parse(config.resolved);
  } catch (const Error& e) {
    TFM_FUZZ_EXPECT(false, "the resolved config is not a valid config: ", e.what(), ": ", config.resolved.dump());
  }
  TFM_FUZZ_EXPECT(again.resolved == config.resolved, "the resolved config does not parse to itself: ",
                  config.resolved.dump(), " vs ", again.resolved.dump());

  nlohmann::json model_json = config.model;
  if (!model_json.contains("vocab_size") || model_json["vocab_size"] == 0) model_json["vocab_size"] = 64;
  // Each model gets its own 64 MiB: the guard counts every allocation made
  // while it lives, so one guard over both would refuse a rebuilt model of
  // 33 MiB (a harness bug found by the fuzzer, not a tfm one).
  nlohmann::json resolved;
  {
    AllocationLimitGuard bound(int64_t{64} << 20, "fuzz: the model needs more than 64 MiB");
    resolved = ModelRegistry::create(model_json)->config();
  }
  AllocationLimitGuard bound(int64_t{64} << 20, "fuzz: the rebuilt model needs more than 64 MiB");
  std::unique_ptr<Model> rebuilt;
  try {
    rebuilt = ModelRegistry::create(resolved);
  } catch (const Error& e) {
    TFM_FUZZ_EXPECT(false, "model config() does not rebuild the model: ", e.what(), ": ", resolved.dump());
  }
  TFM_FUZZ_EXPECT(rebuilt->config() == resolved, "model config() does not rebuild the same model: ", resolved.dump(),
                  " vs ", rebuilt->config().dump());
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::train_config)
