#include "layers/luong_attention.h"

#include <cmath>

#include "layers/init.h"

namespace tfm {

LuongAttentionConfig LuongAttentionConfig::parse(const nlohmann::json& j) {
  LuongAttentionConfig c;
  if (j.is_null()) return c;
  TFM_CHECK(j.is_object(), "attention: expected an object {\"type\", \"score\", \"window\"}, found ", j.dump());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    if (key == "type") {
      TFM_CHECK(it->is_string(), "attention.type: expected a string, found ", it->dump());
      c.type = it->get<std::string>();
    } else if (key == "score") {
      TFM_CHECK(it->is_string(), "attention.score: expected a string, found ", it->dump());
      c.score = it->get<std::string>();
    } else if (key == "window") {
      TFM_CHECK(it->is_number_integer() && it->get<int64_t>() >= 0, "attention.window: expected an integer >= 0, found ",
                it->dump());
      c.window = it->get<int64_t>();
    } else {
      TFM_FAIL("attention: unknown key \"", key, "\" (valid: type, score, window)");
    }
  }
  TFM_CHECK(c.type == "global" || c.type == "local-m" || c.type == "local-p" || c.type == "none",
            "attention.type: \"", c.type, "\" is not one of global, local-m, local-p, none");
  TFM_CHECK(c.score == "dot" || c.score == "general" || c.score == "concat", "attention.score: \"", c.score,
            "\" is not one of dot, general, concat");
  return c;
}

nlohmann::json LuongAttentionConfig::to_json() const { return {{"type", type}, {"score", score}, {"window", window}}; }

LuongAttention::LuongAttention(int64_t hidden, const LuongAttentionConfig& config) : config_(config) {
  if (config_.type == "none") return;
  if (config_.score == "general") {
    W_a = std::make_unique<Linear>(hidden, hidden, false);
    register_module("W_a", *W_a);
  } else if (config_.score == "concat") {
    W_ah = std::make_unique<Linear>(hidden, hidden, false);
    W_as = std::make_unique<Linear>(hidden, hidden, false);
    v_a = Variable(Tensor::empty({hidden}), true);
    const float bound = 1.0f / std::sqrt(static_cast<float>(hidden));
    init::uniform(v_a, -bound, bound, default_generator());
    register_module("W_ah", *W_ah);
    register_module("W_as", *W_as);
    register_parameter("v_a", v_a, ParamRole::Other);
  }
  if (config_.type == "local-p") {
    W_p = std::make_unique<Linear>(hidden, hidden, false);
    v_p = std::make_unique<Linear>(hidden, 1, false);
    register_module("W_p", *W_p);
    register_module("v_p", *v_p);
  }
  W_c = std::make_unique<Linear>(2 * hidden, hidden, false);
  register_module("W_c", *W_c);
}

LuongAttention::Output LuongAttention::forward(const Variable& h, const Variable& src, const Tensor& key_padding,
                                               int64_t q_offset) const {
  TFM_CHECK(h.shape().ndim() == 3 && src.shape().ndim() == 3 && h.dim(0) == src.dim(0) && h.dim(2) == src.dim(2),
            "attention: expected h [B, T, H] and src [B, S, H], found ", h.shape(), " and ", src.shape());
  if (config_.type == "none") return {h, Variable()};
  const int64_t B = h.dim(0), T = h.dim(1), S = src.dim(1);
  Variable scores;
  if (config_.score == "dot") scores = matmul(h, src, false, true);
  else if (config_.score == "general") scores = matmul(h, (*W_a)(src), false, true);
  else scores = additive_scores((*W_ah)(h), (*W_as)(src), v_a);

  AlignOptions o;
  o.window = config_.window;
  o.q_offset = q_offset;
  o.key_padding = key_padding;
  Variable centres;
  if (config_.type == "global") {
    o.mode = AlignMode::Global;
  } else if (config_.type == "local-m") {
    o.mode = AlignMode::LocalM;
  } else {
    o.mode = AlignMode::LocalP;
    // p_t = S_b · sigmoid(v_pᵀ tanh(W_p h_t)), S_b the unpadded length of sentence b.
    Tensor lengths = Tensor::empty({B, T});
    for (int64_t b = 0; b < B; ++b) {
      int64_t len = S;
      if (key_padding.defined()) {
        len = 0;
        for (int64_t s = 0; s < S; ++s) len += key_padding.data_i32()[b * S + s] == 0;
      }
      std::fill(lengths.data() + b * T, lengths.data() + (b + 1) * T, static_cast<float>(len));
    }
    const Variable z = reshape((*v_p)(tanh((*W_p)(h))), Shape({B, T}));
    centres = mul(Variable(lengths), sigmoid(z));
  }
  const Variable a = align(scores, o, centres);
  const Variable context = matmul(a, src);  // [B, T, H]
  return {tanh((*W_c)(concat_last({context, h}))), a};
}

}  // namespace tfm
