#pragma once
// Model: a Module that knows its type and resolved config, computes its
// training loss on a Batch and initialises its own weights. Models are created
// by type name from the `model` object of a config through ModelRegistry
// (TFM_REGISTER_MODEL), like layers.
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/ops/loss.h"
#include "core/registry.h"
#include "layers/module.h"

namespace tfm {

// One training or evaluation batch of token ids (I32).
// Language models: input [B, T], target [B, T].
// Encoder-decoder: source [B, S] (+ source_padding [B, S], nonzero = pad),
// input = decoder input [B, T], target = decoder target [B, T] (ignore_index where padded).
struct Batch {
  Tensor input, target;
  Tensor source, source_padding;
  int64_t batch_size() const { return input.defined() ? input.dim(0) : 0; }
};

class Model : public Module {
 public:
  virtual std::string type() const = 0;
  // Every key with its value, defaults included: goes into checkpoints.
  virtual nlohmann::json config() const = 0;
  // Mean cross-entropy of the batch's targets.
  virtual Variable loss(const Batch& batch, const CrossEntropyOptions& options = {}) = 0;
  // Fresh initialisation as the model's paper does it, from gen.
  virtual void init_weights(Generator& gen) = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t max_len() const = 0;
};

// What a model type trains on, declared where it registers, so that a trainer
// picks its data without knowing model names: Text is one token stream (language
// models, data.train = files); Parallel is sentence pairs (encoder-decoders, which
// implement Seq2SeqModel; data.train = {source, target}).
enum class DataKind { Text, Parallel };
const char* data_kind_name(DataKind kind);

// What a model entry carries besides factory, help and keys: the data it trains
// on, and how to resolve a `model` object without building the model: the config
// the built model would report (parse with defaults, then to_json). A resumed run
// compares resolved configs, so a key added to tfm since the run was written does
// not read as a change. Without `resolve`, a config is taken as given.
struct ModelTraits {
  ModelTraits(DataKind data = DataKind::Text, std::function<nlohmann::json(const nlohmann::json&)> resolve = {})
      : data(data), resolve(std::move(resolve)) {}
  DataKind data;
  std::function<nlohmann::json(const nlohmann::json&)> resolve;
};
template <>
struct RegistryExtra<Model> {
  using type = ModelTraits;
};
using ModelTable = Registry<Model, const nlohmann::json&>;
using ModelFactory = ModelTable::Factory;

class ModelRegistry {
 public:
  // The one table (core/registry.h): entries with their help and config keys.
  static ModelTable& table();
  static bool add(const std::string& type, ModelFactory factory, DataKind data = DataKind::Text);
  // config: the `model` object; its "type" picks the factory. Validation errors
  // name the key (model.d_model) and the value.
  static std::unique_ptr<Model> create(const nlohmann::json& config);
  static std::vector<std::string> types();
  // The registered types that train on `data`, sorted.
  static std::vector<std::string> types(DataKind data);
  // Throws tfm::Error (as create does) for an unknown type.
  static DataKind data_kind(const std::string& type);
  // The same for a `model` config object, validated as create validates it (an
  // object with a string "type"), without building the model.
  static DataKind data_kind_for(const nlohmann::json& config);
  // The `model` object as the model built from it would report it (ModelTraits::resolve).
  static nlohmann::json resolve(const nlohmann::json& config);
};

}  // namespace tfm

// TFM_REGISTER_MODEL("lm", factory) trains on text; an encoder-decoder adds
// ::tfm::DataKind::Parallel.
#define TFM_REGISTER_MODEL(type, ...)                                         \
  static const bool TFM_REGISTRY_CONCAT(tfm_model_registered_, __COUNTER__) = \
      ::tfm::ModelRegistry::add(type, __VA_ARGS__)

// The same with help and config keys, for `tfm help config-keys`:
// TFM_REGISTER_MODEL_ENTRY("lm", factory, "help line", {{"n_layer", "int", "4", "blocks"}, ...}, DataKind::Text).
#define TFM_REGISTER_MODEL_ENTRY(...) TFM_REGISTRY_ADD(::tfm::ModelRegistry::table(), __VA_ARGS__)
