#pragma once
// Attention of a decoder over encoder states, exactly as Luong et al. (2015):
//   score(h_t, s_i) = h_tᵀ s_i                          ("dot": the seed formulation)
//                   = h_tᵀ W_a s_i                      ("general")
//                   = v_aᵀ tanh(W_a [h_t; s_i])         ("concat", Bahdanau et al. 2015),
//                     W_a [h; s] computed as W_ah h + W_as s
//   a_t = align(score(h_t, ·)): "global" (softmax over all source positions),
//         "local-m" (window [t − D, t + D]), "local-p" (window around
//         p_t = S · sigmoid(v_pᵀ tanh(W_p h_t)), weighted by exp(−(s − p_t)²/(2σ²)), σ = D/2;
//         S is each sentence's own length), see core/kernels/alignment.h;
//   c_t = Σ_i a_t(i) s_i,   h̃_t = tanh(W_c [c_t; h_t])   (context concatenated with the hidden state).
// "none" skips attention: h̃_t = h_t (the no-attention baseline).
#include <nlohmann/json.hpp>
#include <string>

#include "layers/basic.h"

namespace tfm {

struct LuongAttentionConfig {
  std::string type = "global";  // global | local-m | local-p | none
  std::string score = "dot";    // dot | general | concat
  int64_t window = 10;          // D (local types)
  // From JSON {"type": ..., "score": ..., "window": ...}; unknown keys and values are errors naming them.
  static LuongAttentionConfig parse(const nlohmann::json& j);
  nlohmann::json to_json() const;
};

class LuongAttention : public Module {
 public:
  LuongAttention(int64_t hidden, const LuongAttentionConfig& config);
  struct Output {
    Variable attentional;  // h̃ [B, T, H]
    Variable weights;      // a [B, T, S] (undefined for "none")
  };
  // h [B, T, H] decoder states (target positions q_offset … q_offset + T − 1), src [B, S, H]
  // encoder states, key_padding I32 [B, S] (nonzero = padding) or undefined.
  Output forward(const Variable& h, const Variable& src, const Tensor& key_padding, int64_t q_offset = 0) const;
  const LuongAttentionConfig& config() const { return config_; }

 private:
  LuongAttentionConfig config_;
  std::unique_ptr<Linear> W_a, W_ah, W_as, W_p, v_p, W_c;
  Variable v_a;
};

}  // namespace tfm
