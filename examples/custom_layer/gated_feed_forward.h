#pragma once
// A gated feed-forward sublayer (GLU variant, Shazeer 2020):
//   out = down(act(gate(x)) ⊙ up(x)), gate, up: d_model → d_ff, down: d_ff → d_model.
// Registered as "gated_ffn", so a config selects it with  "ffn": "gated_ffn".
#include "layers/basic.h"
#include "layers/registry.h"

class GatedFeedForward : public tfm::SequenceLayer {
 public:
  GatedFeedForward(const tfm::LayerContext& context, const nlohmann::json& options);
  tfm::Variable forward(const tfm::Variable& x) override;

 private:
  tfm::Linear gate_, up_, down_;
  tfm::Activation activation_;
};
