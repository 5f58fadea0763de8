#pragma once
// Model checkpoints: safetensors files holding the model's float32 tensors
// under their module names (PyTorch conventions), with __metadata__ "config"
// (the resolved model config, every key) and "tokenizer" (JSON strings), so a
// checkpoint alone rebuilds model and tokenizer. See docs/checkpoint-format.md.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/safetensors.h"
#include "models/model.h"

namespace tfm {

void save_checkpoint(const std::string& path, const Model& model, const nlohmann::json& tokenizer);
// The same from named tensors (a snapshot of the parameters) and the model's config.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
void save_checkpoint(const std::string& path, const NamedTensors& tensors, const nlohmann::json& model_config,
                     const nlohmann::json& tokenizer);

struct LoadedModel {
  std::unique_ptr<Model> model;
  nlohmann::json config;     // the model config from the file
  nlohmann::json tokenizer;  // the tokenizer description from the file
};

// Checkpoint averaging (Vaswani et al. 2017 average the last checkpoints):
// the element-wise mean of the float tensors of `inputs`, which must hold the
// same model (same config, tensor names, dtypes and shapes; errors name the
// file and the tensor), written atomically to `output` with the first file's
// metadata. The mean is taken in double, in the order given.
void average_checkpoints(const std::vector<std::string>& inputs, const std::string& output);

// Rebuilds the model from the file's config and loads its weights.
LoadedModel load_checkpoint(const std::string& path);
// Loads tensors into an existing model: every parameter present with the
// right dtype and shape, no unexpected tensors; errors name the tensor.
void load_weights(Model& model, const SafetensorsContents& contents, const std::string& source);

}  // namespace tfm
