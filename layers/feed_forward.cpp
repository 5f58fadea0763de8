#include "layers/feed_forward.h"

namespace tfm {

FeedForward::FeedForward(int64_t d_model, int64_t d_ff, Activation activation, float dropout)
    : fc1(d_model, d_ff), fc2(d_ff, d_model), activation_(activation), dropout_(dropout) {
  register_module("fc1", fc1);
  register_module("fc2", fc2);
  register_module("dropout", dropout_);  // so that train()/eval() reach it
}

FeedForward::FeedForward(const LayerContext& ctx, const nlohmann::json& options)
    : FeedForward(ctx.d_model, ctx.d_ff, ctx.activation, ctx.dropout) {
  TFM_CHECK(options.is_null() || options.empty(), "layer \"feed_forward\" takes no options, found ",
            options.dump());
}

Variable FeedForward::forward(const Variable& x) { return fc2(dropout_(activate(fc1(x), activation_))); }

TFM_REGISTER_LAYER("feed_forward", FeedForward);

}  // namespace tfm
