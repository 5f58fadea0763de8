#include "gated_feed_forward.h"

#include "autograd/ops.h"

GatedFeedForward::GatedFeedForward(const tfm::LayerContext& ctx, const nlohmann::json& options)
    // Options from the config: {"type": "gated_ffn", "hidden": 256}; default: 2/3 of d_ff
    // keeps the parameter count of the plain feed-forward.
    : gate_(ctx.d_model, options.value("hidden", ctx.d_ff * 2 / 3)),
      up_(ctx.d_model, options.value("hidden", ctx.d_ff * 2 / 3)),
      down_(options.value("hidden", ctx.d_ff * 2 / 3), ctx.d_model),
      activation_(ctx.activation) {
  // Its output joins the residual stream: the model's scheme may scale it (GPT-2 does).
  down_.set_parameter_role("weight", tfm::ParamRole::ResidualWeight);
  register_module("gate", gate_);
  register_module("up", up_);
  register_module("down", down_);
}

tfm::Variable GatedFeedForward::forward(const tfm::Variable& x) {
  return down_(tfm::activate(gate_(x), activation_) * up_(x));
}

TFM_REGISTER_LAYER("gated_ffn", GatedFeedForward);
