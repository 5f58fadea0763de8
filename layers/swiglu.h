#pragma once
// SwiGLU feed-forward sublayer (Shazeer 2020, "GLU Variants Improve
// Transformer"; as in LLaMA): down(dropout(silu(gate(x)) ⊙ up(x))),
// silu(z) = z·σ(z); gate, up: d_model → d_ff, down: d_ff → d_model. Registered
// as "swiglu"; the model's `bias` setting applies to all three projections.
#include "layers/basic.h"
#include "layers/registry.h"

namespace tfm {

class SwiGLU : public SequenceLayer {
 public:
  SwiGLU(int64_t d_model, int64_t d_ff, float dropout = 0.0f, bool bias = true);
  // Registry constructor: accepts no options (the activation is always SiLU).
  SwiGLU(const LayerContext& context, const nlohmann::json& options);
  Variable forward(const Variable& x) override;

  Linear gate, up, down;

 private:
  Dropout dropout_;
};

}  // namespace tfm
