#pragma once
// Reference for the decoder-only LM ("type": "lm"), written from
// docs/checkpoint-format.md ("Decoder-only LM"): token embedding plus the
// position encoding (learned pos_emb, fixed interleaved sinusoids, none, or
// rotary embeddings applied to q and k inside attention, rotate-halves
// convention); per block pre-norm x = x + attn(ln1(x)); x = x + ffn(ln2(x)) or
// post-norm x = ln1(x + attn(x)); x = ln2(x + ffn(x)), norms LayerNorm or
// RMSNorm; ln_f in both cases; logits ln_f(x)·tok_emb.weightᵀ when tied, else
// head(ln_f(x)). Causal attention with n_kv_head key/value heads (query head h
// reads K/V head h / (n_head / n_kv_head)); with attention_window w > 0 only
// the w most recent positions, itself included. ffn feed_forward or swiglu
// (down(silu(gate(x))·up(x))). bias false: no Linear or norm has a bias.
// "head": {"type": "adaptive", ...}: the logits are the log-probabilities of
// PyTorch's AdaptiveLogSoftmaxWithLoss (adaptive_log_probs below).
// Defaults are docs/config.md's; the legacy "norm": "pre" | "post" is the placement.
#include "reference/common_ref.h"

namespace tfm::reference {

struct LmShape {
  int64_t n_layer, n_head, n_kv_head;
  size_t d, d_ff, V, seq_len, window;
  std::string activation, norm_type, pos_emb, ffn;
  bool pre_norm, tied, bias;
  double eps, rope_theta;
  std::string head = "linear";  // or "adaptive", with:
  std::vector<size_t> cutoffs;
  double div_value = 4.0;
  bool head_bias = false;
};

inline LmShape lm_shape(const nlohmann::json& config) {
  LmShape s;
  s.n_layer = key<int64_t>(config, "n_layer", 4);
  s.n_head = key<int64_t>(config, "n_head", 4);
  s.n_kv_head = key<int64_t>(config, "n_kv_head", s.n_head);
  s.d = key<size_t>(config, "d_model", 128);
  s.d_ff = key<size_t>(config, "d_ff", 4 * s.d);
  s.V = config.at("vocab_size").get<size_t>();
  s.seq_len = key<size_t>(config, "seq_len", 64);
  s.window = key<size_t>(config, "attention_window", 0);
  s.activation = key<std::string>(config, "activation", "gelu");
  s.eps = key<double>(config, "layer_norm_eps", 1e-5);
  const nlohmann::json norm = config.contains("norm") ? config.at("norm") : nlohmann::json("layernorm");
  std::string placement = "pre";
  if (norm.is_object()) {
    s.norm_type = key<std::string>(norm, "type", "layernorm");
    s.eps = key<double>(norm, "eps", s.eps);
  } else if (norm == "pre" || norm == "post") {
    s.norm_type = "layernorm", placement = norm.get<std::string>();
  } else {
    s.norm_type = norm.get<std::string>();
  }
  s.pre_norm = key<std::string>(config, "norm_placement", placement) == "pre";
  s.pos_emb = key<std::string>(config, "pos_emb", "learned");
  s.rope_theta = key<double>(config, "rope_theta", 10000.0);
  const nlohmann::json ffn = config.contains("ffn") ? config.at("ffn") : nlohmann::json("feed_forward");
  s.ffn = ffn.is_object() ? ffn.at("type").get<std::string>() : ffn.get<std::string>();
  const nlohmann::json head = config.contains("head") ? config.at("head") : nlohmann::json("linear");
  s.head = head.is_object() ? head.at("type").get<std::string>() : head.get<std::string>();
  if (head.is_object()) {
    s.cutoffs = key<std::vector<size_t>>(head, "cutoffs", {});
    s.div_value = key<double>(head, "div_value", 4.0);
    s.head_bias = key<bool>(head, "head_bias", false);
  }
  s.tied = key<bool>(config, "tie_embeddings", s.head == "linear");
  s.bias = key<bool>(config, "bias", true);
  return s;
}

// LayerNorm (biased variance) or RMSNorm x/√(mean(x²) + eps), times weight, plus bias when present.
inline Vector lm_norm(const Params& p, const std::string& prefix, const Vector& x, const LmShape& s) {
  const size_t d = x.size();
  const Vector& gamma = p.get(prefix + ".weight", d);
  double mean = 0.0, var = 0.0;
  if (s.norm_type == "layernorm") {
    for (double v : x) mean += v / static_cast<double>(d);
    for (double v : x) var += (v - mean) * (v - mean) / static_cast<double>(d);
  } else if (s.norm_type == "rmsnorm") {
    for (double v : x) var += v * v / static_cast<double>(d);
  } else {
    throw std::runtime_error("reference: unknown norm " + s.norm_type);
  }
  Vector y(d);
  for (size_t i = 0; i < d; ++i) y[i] = (x[i] - mean) / std::sqrt(var + s.eps) * gamma[i];
  if (s.bias) {
    const Vector& beta = p.get(prefix + ".bias", d);
    for (size_t i = 0; i < d; ++i) y[i] += beta[i];
  }
  return y;
}

// Rotary embedding of every head of x at position pos: pairs (i, i + dh/2) of a
// head rotated by pos·θ^(−2i/dh) (GPT-NeoX / Hugging Face LLaMA "rotate halves").
inline Vector rotate_heads(Vector x, size_t d_head, size_t pos, double theta) {
  const size_t half = d_head / 2;
  for (size_t h0 = 0; h0 < x.size(); h0 += d_head)
    for (size_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(pos) * std::pow(theta, -2.0 * static_cast<double>(i) / d_head);
      const double a = x[h0 + i], b = x[h0 + half + i];
      x[h0 + i] = a * std::cos(angle) - b * std::sin(angle);
      x[h0 + half + i] = b * std::cos(angle) + a * std::sin(angle);
    }
  return x;
}

// Causal self-attention of block prefix over x (positions 0 … T−1).
inline Sequence lm_attention(const Params& p, const std::string& prefix, const Sequence& x, const LmShape& s) {
  const size_t d = s.d, dh = d / static_cast<size_t>(s.n_head), dkv = dh * static_cast<size_t>(s.n_kv_head);
  const size_t group = static_cast<size_t>(s.n_head / s.n_kv_head);
  Sequence q, k, v;
  for (size_t t = 0; t < x.size(); ++t) {
    q.push_back(linear(p, prefix + ".q", x[t], d, s.bias));
    k.push_back(linear(p, prefix + ".k", x[t], dkv, s.bias));
    v.push_back(linear(p, prefix + ".v", x[t], dkv, s.bias));
    if (s.pos_emb == "rope") {
      q[t] = rotate_heads(q[t], dh, t, s.rope_theta);
      k[t] = rotate_heads(k[t], dh, t, s.rope_theta);
    }
  }
  Sequence out;
  for (size_t i = 0; i < x.size(); ++i) {
    Vector concat(d, 0.0);
    for (size_t h = 0; h < static_cast<size_t>(s.n_head); ++h) {
      const size_t kh = h / group;
      Vector scores(x.size(), 0.0);
      std::vector<bool> visible(x.size());
      for (size_t j = 0; j < x.size(); ++j) {
        for (size_t c = 0; c < dh; ++c) scores[j] += q[i][h * dh + c] * k[j][kh * dh + c];
        scores[j] /= std::sqrt(static_cast<double>(dh));
        visible[j] = j <= i && (s.window == 0 || j + s.window > i);
      }
      const Vector a = masked_softmax(scores, visible);
      for (size_t j = 0; j < x.size(); ++j)
        for (size_t c = 0; c < dh; ++c) concat[h * dh + c] += a[j] * v[j][kh * dh + c];
    }
    out.push_back(linear(p, prefix + ".out", concat, d, s.bias));
  }
  return out;
}

inline Vector lm_ffn(const Params& p, const std::string& prefix, const Vector& x, const LmShape& s) {
  if (s.ffn == "feed_forward") {
    Vector h = linear(p, prefix + ".fc1", x, s.d_ff, s.bias);
    for (double& v : h) v = activate(s.activation, v);
    return linear(p, prefix + ".fc2", h, x.size(), s.bias);
  }
  if (s.ffn != "swiglu") throw std::runtime_error("reference: unknown ffn " + s.ffn);
  const Vector g = linear(p, prefix + ".gate", x, s.d_ff, s.bias), u = linear(p, prefix + ".up", x, s.d_ff, s.bias);
  Vector h(s.d_ff);
  for (size_t j = 0; j < s.d_ff; ++j) h[j] = g[j] * sigmoid(g[j]) * u[j];  // silu(gate)·up
  return linear(p, prefix + ".down", h, x.size(), s.bias);
}

// Token embedding plus the absolute position encoding of position t.
inline Vector lm_embed(const Params& p, const LmShape& s, int32_t id, size_t t) {
  const Vector& tok_emb = p.get("tok_emb.weight", s.V * s.d);
  Vector e(tok_emb.begin() + static_cast<std::ptrdiff_t>(id * s.d),
           tok_emb.begin() + static_cast<std::ptrdiff_t>((id + 1) * s.d));
  if (s.pos_emb == "learned") {
    const Vector& pos_emb = p.get("pos_emb.weight", s.seq_len * s.d);
    for (size_t c = 0; c < s.d; ++c) e[c] += pos_emb[t * s.d + c];
  } else if (s.pos_emb == "sinusoidal") {  // PE[t, 2i] = sin(t·10000^(−2i/d)), PE[t, 2i+1] = cos(…)
    for (size_t c = 0; c < s.d; ++c) {
      const double angle = static_cast<double>(t) * std::pow(10000.0, -static_cast<double>(c - c % 2) / s.d);
      e[c] += static_cast<float>(c % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  } else if (s.pos_emb != "rope" && s.pos_emb != "none") {
    throw std::runtime_error("reference: unknown pos_emb " + s.pos_emb);
  }
  return e;
}

inline Vector log_softmax(Vector z) {
  double mx = z[0], se = 0.0;
  for (double v : z) mx = std::max(mx, v);
  for (double v : z) se += std::exp(v - mx);
  for (double& v : z) v -= mx + std::log(se);
  return z;
}

// PyTorch's nn.AdaptiveLogSoftmaxWithLoss(d, V, cutoffs, div_value, head_bias).log_prob(h):
// head = log_softmax(head.head · h (+ bias)) over c_0 shortlist ids and one entry per
// cluster; cluster i ([c_i, c_{i+1}), c_n = V) has log-probabilities
// head[c_0 + i] + log_softmax(tail.i.1 · tail.i.0 · h), tail.i.0 of int(d // div^(i+1)) rows.
inline Vector adaptive_log_probs(const Params& p, const Vector& h, const LmShape& s) {
  std::vector<size_t> bounds = s.cutoffs;
  bounds.push_back(s.V);
  const size_t n = s.cutoffs.size();
  const Vector head = log_softmax(linear(p, "head.head", h, bounds[0] + n, s.head_bias));
  Vector out(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(bounds[0]));
  for (size_t i = 0; i < n; ++i) {
    // Python's float floor division a // b: (a − fmod(a, b)) / b, an integer up to rounding.
    const double a = static_cast<double>(s.d), b = std::pow(s.div_value, static_cast<double>(i + 1));
    const size_t width = static_cast<size_t>(std::round((a - std::fmod(a, b)) / b));
    const std::string t = "head.tail." + std::to_string(i);
    const Vector projected = linear(p, t + ".0", h, width, false);
    const Vector z = log_softmax(linear(p, t + ".1", projected, bounds[i + 1] - bounds[i], false));
    for (double v : z) out.push_back(head[bounds[0] + i] + v);
  }
  return out;
}

// inputs[r] and targets[r]: row r's token ids and next-token targets.
inline Output lm_reference(const nlohmann::json& config, const Params& p, const std::vector<Ids>& inputs,
                           const std::vector<Ids>& targets, double label_smoothing = 0.0) {
  const LmShape s = lm_shape(config);
  Output out;
  for (const Ids& ids : inputs) {
    Sequence x;
    for (size_t t = 0; t < ids.size(); ++t) x.push_back(lm_embed(p, s, ids[t], t));
    for (int64_t l = 0; l < s.n_layer; ++l) {
      const std::string b = "blocks." + std::to_string(l);
      if (s.pre_norm) {
        Sequence h;
        for (const Vector& v : x) h.push_back(lm_norm(p, b + ".ln1", v, s));
        const Sequence a = lm_attention(p, b + ".attn", h, s);
        for (size_t t = 0; t < x.size(); ++t) x[t] = add(x[t], a[t]);
        for (Vector& v : x) v = add(v, lm_ffn(p, b + ".ffn", lm_norm(p, b + ".ln2", v, s), s));
      } else {
        const Sequence a = lm_attention(p, b + ".attn", x, s);
        for (size_t t = 0; t < x.size(); ++t) x[t] = lm_norm(p, b + ".ln1", add(x[t], a[t]), s);
        for (Vector& v : x) v = lm_norm(p, b + ".ln2", add(v, lm_ffn(p, b + ".ffn", v, s)), s);
      }
    }
    Sequence logits;
    for (const Vector& v : x) {
      const Vector h = lm_norm(p, "ln_f", v, s);
      if (s.head == "adaptive") logits.push_back(adaptive_log_probs(p, h, s));
      else if (s.head != "linear") throw std::runtime_error("reference: unknown head " + s.head);
      else logits.push_back(s.tied ? matvec(p.get("tok_emb.weight", s.V * s.d), h, s.V)
                                   : linear(p, "head", h, s.V, /*bias=*/false));
    }
    out.logits.push_back(logits);
  }
  cross_entropy(out, targets, label_smoothing);
  return out;
}

}  // namespace tfm::reference
