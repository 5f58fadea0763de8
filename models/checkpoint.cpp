#include "models/checkpoint.h"

#include <set>

#include "core/allocator.h"
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

void average_checkpoints(const std::vector<std::string>& inputs, const std::string& output) {
  TFM_CHECK(!inputs.empty(), "average: no checkpoints given");
  const SafetensorsContents first = load_safetensors(inputs[0]);
  std::vector<std::vector<double>> sums;
  for (const auto& [name, t] : first.tensors) {
    TFM_CHECK(t.dtype() == DType::F32, inputs[0], ": tensor \"", name, "\" is ", dtype_name(t.dtype()),
              ", only F32 checkpoints can be averaged");
    sums.emplace_back(t.data(), t.data() + t.numel());
  }
  const auto config = first.metadata.find("config");
  for (size_t k = 1; k < inputs.size(); ++k) {
    const SafetensorsContents c = load_safetensors(inputs[k]);
    const auto other = c.metadata.find("config");
    TFM_CHECK((config == first.metadata.end()) == (other == c.metadata.end()) &&
                  (config == first.metadata.end() || config->second == other->second),
              "average: ", inputs[k], " holds a different model config than ", inputs[0]);
    TFM_CHECK(c.tensors.size() == first.tensors.size(), "average: ", inputs[k], " has ", c.tensors.size(),
              " tensors, ", inputs[0], " has ", first.tensors.size());
    for (size_t i = 0; i < first.tensors.size(); ++i) {
      const auto& [name, t] = first.tensors[i];
      const Tensor* u = c.find(name);
      TFM_CHECK(u != nullptr, "average: ", inputs[k], " has no tensor \"", name, "\"");
      TFM_CHECK(u->dtype() == DType::F32 && u->shape() == t.shape(), "average: ", inputs[k], ": tensor \"", name,
                "\" is ", dtype_name(u->dtype()), " ", u->shape(), ", expected F32 ", t.shape());
      for (int64_t j = 0; j < t.numel(); ++j) sums[i][j] += u->data()[j];
    }
  }
  std::vector<std::pair<std::string, Tensor>> out;
  const double n = static_cast<double>(inputs.size());
  for (size_t i = 0; i < first.tensors.size(); ++i) {
    Tensor t = Tensor::empty(first.tensors[i].second.shape());
    for (int64_t j = 0; j < t.numel(); ++j) t.data()[j] = static_cast<float>(sums[i][j] / n);
    out.emplace_back(first.tensors[i].first, t);
  }
  save_safetensors(output, out, first.metadata);
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
  {
    // The file's tensors are the model's parameters: a config that needs far more memory than they hold was
    // crafted or corrupted, and must fail here rather than allocate (n_layer 1024 at d_model 65536 is 16 TiB).
    int64_t file_bytes = 0;
    for (const auto& [name, t] : contents.tensors) file_bytes += t.nbytes();
    AllocationLimitGuard bound(2 * file_bytes + (int64_t{256} << 20),
                               path + ": the model config in __metadata__ needs more memory than the checkpoint's " +
                                   std::to_string(file_bytes) + " tensor bytes");
    out.model = ModelRegistry::create(out.config);
  }
  load_weights(*out.model, contents, path);
  return out;
}

}  // namespace tfm
