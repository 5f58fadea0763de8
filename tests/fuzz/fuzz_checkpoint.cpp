// load_checkpoint on an arbitrary file, as `tfm generate`, `tfm translate` and
// `tfm train --resume CHECKPOINT` open one: the model rebuilt from the config in
// __metadata__ (within the memory its tensors justify), its weights loaded by
// name, dtype and shape, and the tokenizer rebuilt from its description. What
// loads must describe itself (config()) as a config that rebuilds the same model.
#include "fuzz.h"
#include "models/checkpoint.h"
#include "tools/text/tokenizer.h"

namespace tfm::fuzz {

void checkpoint(std::string_view input) {
  const std::string path = scratch_file("checkpoint.safetensors", input);
  LoadedModel loaded = load_checkpoint(path);
  TFM_FUZZ_EXPECT(loaded.model != nullptr, "load_checkpoint returned no model");
  const nlohmann::json config = loaded.model->config();
  std::unique_ptr<Model> rebuilt;
  try {
    rebuilt = ModelRegistry::create(config);
  } catch (const Error& e) {
    TFM_FUZZ_EXPECT(false, "config() of a loaded model does not rebuild it: ", e.what());
  }
  TFM_FUZZ_EXPECT(rebuilt->config() == config, "config() does not rebuild the same model: ", config.dump());
  TFM_FUZZ_EXPECT(rebuilt->named_parameters().size() == loaded.model->named_parameters().size(),
                  "the rebuilt model has different parameters");
  if (!loaded.tokenizer.is_null()) {
    const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_json(loaded.tokenizer);
    TFM_FUZZ_EXPECT(tokenizer->vocab_size() >= 0, "negative vocabulary size");
  }
}

}  // namespace tfm::fuzz

TFM_FUZZ_TARGET(tfm::fuzz::checkpoint)
