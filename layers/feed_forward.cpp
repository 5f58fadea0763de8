#include "layers/feed_forward.h"

#include "core/precision.h"

namespace tfm {

FeedForward::FeedForward(int64_t d_model, int64_t d_ff, Activation activation, float dropout, bool bias)
    : fc1(d_model, d_ff, bias), fc2(d_ff, d_model, bias), activation_(activation), dropout_(dropout) {
  fc2.set_parameter_role("weight", ParamRole::ResidualWeight);  // its output joins the residual stream
  register_module("fc1", fc1);
  register_module("fc2", fc2);
  register_module("dropout", dropout_);  // so that train()/eval() reach it
}

FeedForward::FeedForward(const LayerContext& ctx, const nlohmann::json& options)
    : FeedForward(ctx.d_model, ctx.d_ff, ctx.activation, ctx.dropout, ctx.bias) {
  TFM_CHECK(options.is_null() || options.empty(), "layer \"feed_forward\" takes no options, found ",
            options.dump());
}

Variable FeedForward::forward(const Variable& x) {
  const Variable h = fc1(x);
  // bf16 GEMMs and no dropout to apply: the activation is written in bf16, fc2's operand.
  if (bf16_compute() && !(dropout_.training() && dropout_.p() > 0)) return fc2(activate_bf16(h, activation_));
  return fc2(dropout_(activate(h, activation_)));
}

TFM_REGISTER_LAYER_DOC("feed_forward", FeedForward,
                       "fc2(dropout(activation(fc1(x)))), d_model -> d_ff -> d_model (Vaswani et al. 2017, eq. 2); no options");

}  // namespace tfm
