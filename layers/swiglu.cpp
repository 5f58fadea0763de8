#include "layers/swiglu.h"

namespace tfm {

SwiGLU::SwiGLU(int64_t d_model, int64_t d_ff, float dropout, bool bias)
    : gate(d_model, d_ff, bias), up(d_model, d_ff, bias), down(d_ff, d_model, bias), dropout_(dropout) {
  down.set_parameter_role("weight", ParamRole::ResidualWeight);  // its output joins the residual stream
  register_module("gate", gate);
  register_module("up", up);
  register_module("down", down);
  register_module("dropout", dropout_);  // so that train()/eval() reach it
}

SwiGLU::SwiGLU(const LayerContext& ctx, const nlohmann::json& options)
    : SwiGLU(ctx.d_model, ctx.d_ff, ctx.dropout, ctx.bias) {
  TFM_CHECK(options.is_null() || options.empty(), "layer \"swiglu\" takes no options, found ", options.dump());
}

Variable SwiGLU::forward(const Variable& x) {
  const Variable g = gate(x);
  return down(dropout_(g * sigmoid(g) * up(x)));
}

TFM_REGISTER_LAYER("swiglu", SwiGLU);

}  // namespace tfm
