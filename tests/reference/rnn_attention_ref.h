#pragma once
// Reference for the LSTM encoder-decoder with Luong attention
// ("type": "rnn-attention"), written from docs/attention.md and
// docs/checkpoint-format.md ("rnn-attention"):
//   LSTM step (PyTorch gate order i, f, g, o):
//     [i f g o] = W_ih x + b_ih + W_hh h + b_hh,
//     c' = σ(f)·c + σ(i)·tanh(g),  h' = σ(o)·tanh(c')
//   encoder: from zero state over the source; the decoder starts from its final (h, c);
//   decoder input at step t: tgt_emb[y_t], and with input feeding [tgt_emb[y_t]; h̃_{t−1}], h̃_{−1} = 0;
//   scores: dot hᵀs, general hᵀ(W_a s), concat Σ_k v_a[k]·tanh((W_ah h)_k + (W_as s)_k);
//   alignment: global softmax over s = 0 … S−1; local-m over |s − t| ≤ D (t the 0-based target step);
//     local-p over the integers s with |s − p_t| ≤ D, p_t = S·sigmoid(v_pᵀ tanh(W_p h_t)), then times
//     exp(−(s − p_t)²/(2σ²)), σ = max(D/2, 0.5), without renormalising;
//     a row with no position in its window gets zero weights;
//   c_t = Σ_s a_t(s)·s_s,  h̃_t = tanh(W_c [c_t; h_t]);  none: h̃_t = h_t;
//   logits = tgt_emb.weight·h̃_t when tied, else head.weight·h̃_t; with "head":
//   {"type": "adaptive", ...} the log-probabilities of PyTorch's AdaptiveLogSoftmaxWithLoss
//   (lm_ref.h, adaptive_log_probs), and tie_embeddings defaults to false.
// Each sentence is computed alone, without padding (S is its own length).
#include <algorithm>

#include "reference/common_ref.h"
#include "reference/lm_ref.h"  // adaptive_log_probs
#include "reference/transformer_ref.h"  // SentencePair

namespace tfm::reference {

struct LstmState {
  Vector h, c;
};

// One LSTM step of the cell whose parameters are `prefix` + weight_ih/weight_hh/bias_ih/bias_hh + `suffix`.
inline LstmState lstm_step(const Params& p, const std::string& prefix, const std::string& suffix, const Vector& x,
                           const LstmState& s) {
  const size_t H = s.h.size();
  const Vector& W_ih = p.get(prefix + "weight_ih" + suffix, 4 * H * x.size());
  const Vector& W_hh = p.get(prefix + "weight_hh" + suffix, 4 * H * H);
  const Vector& b_ih = p.get(prefix + "bias_ih" + suffix, 4 * H);
  const Vector& b_hh = p.get(prefix + "bias_hh" + suffix, 4 * H);
  Vector gates = add(matvec(W_ih, x, 4 * H), matvec(W_hh, s.h, 4 * H));
  for (size_t k = 0; k < 4 * H; ++k) gates[k] += b_ih[k] + b_hh[k];
  LstmState next{Vector(H), Vector(H)};
  for (size_t k = 0; k < H; ++k) {
    const double i = sigmoid(gates[k]), f = sigmoid(gates[H + k]);
    const double g = std::tanh(gates[2 * H + k]), o = sigmoid(gates[3 * H + k]);
    next.c[k] = f * s.c[k] + i * g;
    next.h[k] = o * std::tanh(next.c[k]);
  }
  return next;
}

inline double dot(const Vector& a, const Vector& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

inline Output rnn_attention_reference(const nlohmann::json& config, const Params& p,
                                      const std::vector<SentencePair>& pairs, double label_smoothing = 0.0) {
  const size_t H = key<size_t>(config, "d_model", 256), V = config.at("vocab_size").get<size_t>();
  const LmShape head = lm_shape(config);  // the head keys: head, tie_embeddings
  const bool tied = head.tied;
  const bool input_feeding = key<bool>(config, "input_feeding", true);
  const nlohmann::json attention = key<nlohmann::json>(config, "attention", nlohmann::json::object());
  const std::string type = key<std::string>(attention, "type", "global");
  const std::string score = key<std::string>(attention, "score", "dot");
  const int64_t D = key<int64_t>(attention, "window", 10);

  const Vector& src_emb = p.get("src_emb.weight", V * H);
  const Vector& tgt_emb = p.get("tgt_emb.weight", V * H);
  auto row = [&](const Vector& table, int32_t id) {
    return Vector(table.begin() + id * H, table.begin() + (id + 1) * H);
  };

  Output out;
  for (const SentencePair& pair : pairs) {
    const size_t S = pair.source.size();
    LstmState state{Vector(H, 0.0), Vector(H, 0.0)};
    Sequence src;
    for (int32_t id : pair.source) {
      state = lstm_step(p, "encoder.", "_l0", row(src_emb, id), state);
      src.push_back(state.h);
    }
    Vector feed(H, 0.0);
    Sequence logits;
    for (size_t t = 0; t < pair.decoder_input.size(); ++t) {
      Vector x = row(tgt_emb, pair.decoder_input[t]);
      if (input_feeding) x.insert(x.end(), feed.begin(), feed.end());
      state = lstm_step(p, "decoder.", "", x, state);
      const Vector& h = state.h;
      Vector attentional = h;
      if (type != "none") {
        Vector e(S);
        for (size_t s = 0; s < S; ++s) {
          if (score == "dot") {
            e[s] = dot(h, src[s]);
          } else if (score == "general") {
            e[s] = dot(h, matvec(p.get("attention.W_a.weight", H * H), src[s], H));
          } else {
            const Vector wh = matvec(p.get("attention.W_ah.weight", H * H), h, H);
            const Vector ws = matvec(p.get("attention.W_as.weight", H * H), src[s], H);
            const Vector& v_a = p.get("attention.v_a", H);
            e[s] = 0.0;
            for (size_t k = 0; k < H; ++k) e[s] += v_a[k] * std::tanh(wh[k] + ws[k]);
          }
        }
        std::vector<bool> in_window(S, true);
        double centre = 0.0;
        if (type == "local-m") {
          for (size_t s = 0; s < S; ++s) in_window[s] = std::abs(static_cast<double>(s) - static_cast<double>(t)) <= D;
        } else if (type == "local-p") {
          Vector z = matvec(p.get("attention.W_p.weight", H * H), h, H);
          for (double& v : z) v = std::tanh(v);
          centre = static_cast<double>(S) * sigmoid(dot(p.get("attention.v_p.weight", H), z));
          for (size_t s = 0; s < S; ++s) in_window[s] = std::abs(static_cast<double>(s) - centre) <= D;
        } else if (type != "global") {
          throw std::runtime_error("reference: unknown attention type " + type);
        }
        Vector a = masked_softmax(e, in_window);
        if (type == "local-p") {
          const double sigma = std::max(static_cast<double>(D) / 2.0, 0.5);
          for (size_t s = 0; s < S; ++s) {
            const double x_s = static_cast<double>(s) - centre;
            a[s] *= std::exp(-x_s * x_s / (2.0 * sigma * sigma));
          }
        }
        Vector context_and_h(2 * H, 0.0);
        for (size_t s = 0; s < S; ++s)
          for (size_t k = 0; k < H; ++k) context_and_h[k] += a[s] * src[s][k];
        for (size_t k = 0; k < H; ++k) context_and_h[H + k] = h[k];
        attentional = matvec(p.get("attention.W_c.weight", H * 2 * H), context_and_h, H);
        for (double& v : attentional) v = std::tanh(v);
      }
      feed = attentional;
      if (head.head == "adaptive") logits.push_back(adaptive_log_probs(p, attentional, head));
      else if (head.head != "linear") throw std::runtime_error("reference: unknown head " + head.head);
      else logits.push_back(tied ? matvec(tgt_emb, attentional, V) : matvec(p.get("head.weight", V * H), attentional, V));
    }
    out.logits.push_back(logits);
  }
  std::vector<Ids> targets;
  for (const SentencePair& pair : pairs) targets.push_back(pair.target);
  cross_entropy(out, targets, label_smoothing);
  return out;
}

}  // namespace tfm::reference
