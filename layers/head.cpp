#include "layers/head.h"

namespace tfm {

HeadTable& head_registry() {
  static HeadTable t("head");
  return t;
}

Variable OutputHead::loss(const Variable& hidden, const Tensor& targets, const CrossEntropyOptions& options) {
  return cross_entropy(logits(hidden), targets, options);
}

LayerSlot parse_head_slot(const nlohmann::json& value, const std::string& key_path) {
  return LayerSlot::parse(head_registry(), value, "linear", key_path);
}

void read_head_and_tie(ConfigReader& model, LayerSlot& head, bool& tie_embeddings) {
  head = parse_head_slot(model.get_json("head"), model.key_path("head"));
  const bool can_tie = head_registry().get(head.type).extra.ties_to_embedding;
  tie_embeddings = model.get_bool("tie_embeddings", can_tie);
  TFM_CHECK(!tie_embeddings || can_tie, "config: ", model.key_path("tie_embeddings"), " = true, but ",
            model.key_path("head"), " \"", head.type, "\" cannot share the token embedding: set ",
            model.key_path("tie_embeddings"), " to false");
}

nlohmann::json head_slot_json(const LayerSlot& slot) {
  if (slot.type == "linear" && slot.options.empty()) return nullptr;
  return slot.to_json();
}

std::unique_ptr<OutputHead> create_head(const LayerSlot& slot, const HeadContext& context) {
  return head_registry().get(slot.type, "model.head").factory(context, slot.options);
}

LinearHead::LinearHead(const HeadContext& context, const nlohmann::json& options) : tied_(context.tied_embedding) {
  TFM_CHECK(options.is_null() || options.empty(), "config: model.head \"linear\" takes no options, found ",
            options.dump());
  if (tied_ == nullptr) {
    linear_ = std::make_unique<Linear>(context.d_model, context.vocab_size, /*bias=*/false);
    register_parameter("weight", linear_->weight);
  } else {
    TFM_CHECK(tied_->shape() == Shape({context.vocab_size, context.d_model}), "head \"linear\": the tied embedding ",
              tied_->shape(), " is not [vocab_size, d_model] = [", context.vocab_size, ", ", context.d_model, "]");
  }
}

Variable LinearHead::logits(const Variable& hidden) {
  return linear_ ? linear_->forward(hidden) : linear(hidden, *tied_, Variable());
}

TFM_REGISTER_HEAD("linear", LinearHead, ::tfm::HeadTraits{.ties_to_embedding = true},
                  "logits = hidden W^T (no bias), W the token embedding when tie_embeddings, else the head's own "
                  "weight [vocab, d_model]; no options",
                  {});

}  // namespace tfm
