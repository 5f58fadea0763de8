#include "models/checkpoint.h"

#include <set>

#include "core/config.h"

namespace tfm {

void save_checkpoint(const std::string& path, const NamedTensors& tensors, const nlohmann::json& model_config,
                     const nlohmann::json& tokenizer) {
  save_safetensors(path, tensors, {{"config", model_config.dump()}, {"tokenizer", tokenizer.dump()},
                                   {"format", "tfm"}});
}

void save_checkpoint(const std::string& path, const Model& model, const nlohmann::json& tokenizer) {
  NamedTensors tensors;
  for (auto& [name, p] : model.named_parameters()) tensors.emplace_back(name, p->data());
  save_checkpoint(path, tensors, model.config(), tokenizer);
}

void load_weights(Model& model, const SafetensorsContents& contents, const std::string& src) {
  std::set<std::string> expected;
  for (auto& [name, p] : model.named_parameters()) {
    expected.insert(name);
    const Tensor* t = contents.find(name);
    TFM_CHECK(t != nullptr, src, ": missing tensor \"", name, "\" (expected F32 ", p->shape(), ") for model type ",
              model.type());
    TFM_CHECK(t->dtype() == DType::F32, src, ": tensor \"", name, "\": expected dtype F32, found ",
              dtype_name(t->dtype()));
    TFM_CHECK(t->shape() == p->shape(), src, ": tensor \"", name, "\": expected shape ", p->shape(), ", found ",
              t->shape());
    p->mutable_data().copy_from(*t);
  }
  for (auto& [name, t] : contents.tensors)
    TFM_CHECK(expected.contains(name), src, ": unexpected tensor \"", name, "\" ", t.shape(), " for model type ",
              model.type());
}

LoadedModel load_checkpoint(const std::string& path) {
  SafetensorsContents contents = load_safetensors(path);
  auto config_it = contents.metadata.find("config");
  TFM_CHECK(config_it != contents.metadata.end(), path,
            ": no model config in __metadata__ (not a tfm checkpoint; expected keys \"config\" and \"tokenizer\")");
  LoadedModel out;
  out.config = parse_json(config_it->second, path + " (__metadata__.config)");
  auto tok_it = contents.metadata.find("tokenizer");
  out.tokenizer = tok_it != contents.metadata.end() ? parse_json(tok_it->second, path + " (__metadata__.tokenizer)")
                                                    : nlohmann::json();
  out.model = ModelRegistry::create(out.config);
  load_weights(*out.model, contents, path);
  return out;
}

}  // namespace tfm
