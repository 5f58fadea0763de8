#pragma once
// Output heads: the last layer of a language model or a decoder, from hidden
// states [..., d_model] to a distribution over the vocabulary. A head gives the
// training loss of hidden states against their targets (it may compute it
// without scoring the whole vocabulary, as the adaptive softmax does) and
// scores over the whole vocabulary for perplexity, sampling and decoding.
// Heads are registered by name (head_registry(), TFM_REGISTER_HEAD) and chosen
// by a model's "head" slot: "head": NAME or {"type": NAME, ...options}, as
// "ffn" (LayerSlot). "linear" (layers/head.cpp) is the default; "adaptive" is
// the adaptive softmax of Grave et al. 2017 (layers/adaptive_softmax.h).
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "autograd/ops/loss.h"
#include "core/config.h"
#include "core/registry.h"
#include "layers/basic.h"
#include "layers/registry.h"

namespace tfm {

// What a model tells its head.
struct HeadContext {
  int64_t d_model = 0;
  int64_t vocab_size = 0;
  // The token embedding [vocab_size, d_model] when the model ties its output to
  // it (tie_embeddings), else null: the head owns its weights.
  const Variable* tied_embedding = nullptr;
};

class OutputHead : public Module {
 public:
  // hidden [..., d_model] → [..., vocab_size], scores whose softmax is the head's
  // distribution: a linear head's logits; a normalised head (adaptive) returns
  // the log-probabilities themselves (their softmax is the same distribution).
  virtual Variable logits(const Variable& hidden) = 0;
  // Mean cross-entropy of hidden [..., d_model] against I32 targets [...], as
  // cross_entropy (autograd/ops/loss.h): targets equal to options.ignore_index
  // do not count; 0 when none counts. A head that cannot honour an option throws.
  // The default scores the whole vocabulary: cross_entropy(logits(hidden), ...).
  virtual Variable loss(const Variable& hidden, const Tensor& targets, const CrossEntropyOptions& options);
};

// What a head entry declares besides its keys: whether it can share the token
// embedding (the model's tie_embeddings defaults to this, and true is refused
// for a head that cannot).
struct HeadTraits {
  bool ties_to_embedding = false;
  // Whether the loss scores the whole vocabulary for every row, as label smoothing
  // and z-loss need (CrossEntropyOptions); a config asking for either with a head
  // that does not is refused when it is read (tools/train/train_config.cpp).
  bool scores_whole_vocabulary = true;
};
template <>
struct RegistryExtra<OutputHead> {
  using type = HeadTraits;
};
using HeadTable = Registry<OutputHead, const HeadContext&, const nlohmann::json&>;
HeadTable& head_registry();

// The "head" slot of a model config: "head": NAME or {"type": NAME, ...options}
// (null: "linear"); an unknown name is an error that lists the registered heads.
LayerSlot parse_head_slot(const nlohmann::json& value, const std::string& key_path);
// Reads a model config's "head" slot, then "tie_embeddings", whose default is whether that
// head can share the token embedding; true with a head that cannot is an error.
void read_head_and_tie(ConfigReader& model, LayerSlot& head, bool& tie_embeddings);
// The slot as a config writes it: nothing (null) for the default "linear" without
// options, so the configs of models without a head key stay as they were.
nlohmann::json head_slot_json(const LayerSlot& slot);
std::unique_ptr<OutputHead> create_head(const LayerSlot& slot, const HeadContext& context);

// "linear": logits = hidden · Wᵀ, no bias; W is the head's own weight [vocab_size,
// d_model] ("weight") or, tied, the token embedding (no tensor of its own).
class LinearHead : public OutputHead {
 public:
  LinearHead(const HeadContext& context, const nlohmann::json& options);
  Variable logits(const Variable& hidden) override;
  // The head's own Linear, null when tied.
  Linear* untied() { return linear_.get(); }

 private:
  std::unique_ptr<Linear> linear_;
  const Variable* tied_ = nullptr;
};

}  // namespace tfm

// TFM_REGISTER_HEAD("adaptive", AdaptiveSoftmaxHead, ::tfm::HeadTraits{}, "help line", {{"cutoffs", ...}}):
// Class must be constructible from (const HeadContext&, const nlohmann::json& options);
// the option keys come last (they contain commas).
#define TFM_REGISTER_HEAD(name, Class, traits, help_text, ...)                                              \
  TFM_REGISTRY_ADD(                                                                                         \
      ::tfm::head_registry(), name,                                                                         \
      [](const ::tfm::HeadContext& ctx, const nlohmann::json& opts) -> std::unique_ptr<::tfm::OutputHead> { \
        return std::make_unique<Class>(ctx, opts);                                                          \
      },                                                                                                    \
      help_text, __VA_ARGS__, traits)
