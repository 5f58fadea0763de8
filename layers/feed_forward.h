#pragma once
// Position-wise feed-forward sublayer (Vaswani et al. 2017, eq. 2):
// fc2(dropout(activation(fc1(x)))), fc1: d_model → d_ff, fc2: d_ff → d_model.
#include "layers/basic.h"
#include "layers/registry.h"

namespace tfm {

class FeedForward : public SequenceLayer {
 public:
  FeedForward(int64_t d_model, int64_t d_ff, Activation activation, float dropout = 0.0f, bool bias = true);
  // Registry constructor: accepts no options.
  FeedForward(const LayerContext& context, const nlohmann::json& options);
  Variable forward(const Variable& x) override;

  Linear fc1, fc2;

 private:
  Activation activation_;
  Dropout dropout_;
};

}  // namespace tfm
