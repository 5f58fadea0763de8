#pragma once
// Building blocks of the whole-model references (lm_ref.h, transformer_ref.h,
// rnn_attention_ref.h): plain loops in double over named parameters, written
// from docs/checkpoint-format.md and docs/attention.md. Nothing here calls a
// tfm op, kernel or oneDNN, so a reference cannot share a bug with the code it
// checks. Errors are std::runtime_error: a reference that reads a parameter
// under the wrong name or with the wrong size must fail loudly.
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace tfm::reference {

using Vector = std::vector<double>;
using Sequence = std::vector<Vector>;  // one vector per position
using Ids = std::vector<int32_t>;

// Named parameter tensors, row-major, as in a checkpoint.
class Params {
 public:
  void set(const std::string& name, Vector values) { tensors_[name] = std::move(values); }
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }
  // The tensor `name` of exactly `size` elements.
  const Vector& get(const std::string& name, size_t size) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      if (!fill_missing_) throw std::runtime_error("reference: no parameter " + name);
      // A tensor the model does not have, needed to evaluate another variant's
      // reference on this model's weights: drawn at random, deterministically.
      std::mt19937_64 gen(std::hash<std::string>{}(name));
      std::uniform_real_distribution<double> u(-0.5, 0.5);
      Vector v(size);
      for (double& x : v) x = u(gen);
      it = tensors_.emplace(name, std::move(v)).first;
    }
    if (it->second.size() != size)
      throw std::runtime_error("reference: " + name + " has " + std::to_string(it->second.size()) +
                               " elements, expected " + std::to_string(size));
    read_[name] = true;
    return it->second;
  }
  void fill_missing(bool on) { fill_missing_ = on; }
  // The tensors no reference has read: a model parameter the documented
  // semantics do not mention.
  std::vector<std::string> unread() const {
    std::vector<std::string> names;
    for (const auto& [name, values] : tensors_)
      if (!read_.count(name)) names.push_back(name);
    return names;
  }

 private:
  mutable std::map<std::string, Vector> tensors_;
  mutable std::map<std::string, bool> read_;
  bool fill_missing_ = false;
};

// A config key with the default documented in docs/config.md.
template <typename T>
T key(const nlohmann::json& config, const std::string& name, const T& documented_default) {
  return config.contains(name) ? config.at(name).get<T>() : documented_default;
}

// y = W x (+ b), W [out, in] row-major (torch.nn.Linear).
inline Vector matvec(const Vector& W, const Vector& x, size_t out) {
  const size_t in = x.size();
  if (W.size() != out * in) throw std::runtime_error("reference: matvec: weight size mismatch");
  Vector y(out, 0.0);
  for (size_t o = 0; o < out; ++o)
    for (size_t i = 0; i < in; ++i) y[o] += W[o * in + i] * x[i];
  return y;
}

// The Linear `prefix` (prefix.weight [out, in], prefix.bias [out] when `bias`).
inline Vector linear(const Params& p, const std::string& prefix, const Vector& x, size_t out, bool bias = true) {
  Vector y = matvec(p.get(prefix + ".weight", out * x.size()), x, out);
  if (bias) {
    const Vector& b = p.get(prefix + ".bias", out);
    for (size_t o = 0; o < out; ++o) y[o] += b[o];
  }
  return y;
}

// LayerNorm with the biased variance (torch.nn.LayerNorm).
inline Vector layer_norm(const Params& p, const std::string& prefix, const Vector& x, double eps) {
  const size_t d = x.size();
  const Vector& gamma = p.get(prefix + ".weight", d);
  const Vector& beta = p.get(prefix + ".bias", d);
  double mean = 0.0, var = 0.0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(d);
  for (double v : x) var += (v - mean) * (v - mean);
  var /= static_cast<double>(d);
  Vector y(d);
  for (size_t i = 0; i < d; ++i) y[i] = (x[i] - mean) / std::sqrt(var + eps) * gamma[i] + beta[i];
  return y;
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// gelu: x·Φ(x) (nn.GELU()); gelu_tanh: nn.GELU(approximate="tanh"); relu.
inline double activate(const std::string& activation, double x) {
  if (activation == "gelu") return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
  if (activation == "gelu_tanh") {
    const double k = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
  }
  if (activation == "relu") return x > 0.0 ? x : 0.0;
  throw std::runtime_error("reference: unknown activation " + activation);
}

// fc2(activation(fc1(x))), fc1: d → d_ff, fc2: d_ff → d.
inline Vector feed_forward(const Params& p, const std::string& prefix, const Vector& x, size_t d_ff,
                           const std::string& activation) {
  Vector h = linear(p, prefix + ".fc1", x, d_ff);
  for (double& v : h) v = activate(activation, v);
  return linear(p, prefix + ".fc2", h, x.size());
}

// Softmax over the entries whose `visible` flag is set; the others get 0.
inline Vector masked_softmax(const Vector& scores, const std::vector<bool>& visible) {
  double mx = -std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < scores.size(); ++j)
    if (visible[j]) mx = std::max(mx, scores[j]);
  Vector a(scores.size(), 0.0);
  if (mx == -std::numeric_limits<double>::infinity()) return a;
  double sum = 0.0;
  for (size_t j = 0; j < scores.size(); ++j)
    if (visible[j]) sum += (a[j] = std::exp(scores[j] - mx));
  for (double& v : a) v /= sum;
  return a;
}

// Multi-head attention `prefix` (q, k, v, out Linears with bias) of queries
// over keys_values: head h uses columns h·d/n_head … (h+1)·d/n_head − 1, scores
// q·kᵀ/√(d/n_head), softmax over the keys j with visible(i, j), weighted sum of
// the values, heads concatenated in order, then `out`.
inline Sequence multi_head_attention(const Params& p, const std::string& prefix, const Sequence& queries,
                                     const Sequence& keys_values, int64_t n_head,
                                     const std::function<bool(size_t, size_t)>& visible) {
  const size_t d = queries[0].size(), d_head = d / static_cast<size_t>(n_head);
  Sequence q, k, v;
  for (const Vector& x : queries) q.push_back(linear(p, prefix + ".q", x, d));
  for (const Vector& x : keys_values) {
    k.push_back(linear(p, prefix + ".k", x, d));
    v.push_back(linear(p, prefix + ".v", x, d));
  }
  Sequence out;
  for (size_t i = 0; i < q.size(); ++i) {
    Vector concat(d, 0.0);
    for (size_t h = 0; h < static_cast<size_t>(n_head); ++h) {
      Vector scores(k.size(), 0.0);
      std::vector<bool> mask(k.size());
      for (size_t j = 0; j < k.size(); ++j) {
        for (size_t c = h * d_head; c < (h + 1) * d_head; ++c) scores[j] += q[i][c] * k[j][c];
        scores[j] /= std::sqrt(static_cast<double>(d_head));
        mask[j] = visible(i, j);
      }
      const Vector a = masked_softmax(scores, mask);
      for (size_t j = 0; j < k.size(); ++j)
        for (size_t c = h * d_head; c < (h + 1) * d_head; ++c) concat[c] += a[j] * v[j][c];
    }
    out.push_back(linear(p, prefix + ".out", concat, d));
  }
  return out;
}

inline Vector add(const Vector& a, const Vector& b) {
  Vector y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

// A reference's result: the logits of every decoder position of every row and
// the batch loss.
struct Output {
  std::vector<Sequence> logits;  // [row][position][vocab]
  double loss = 0.0;             // mean over the counted targets
  int64_t tokens = 0;            // targets counted (not ignore_index)
};

// nn.CrossEntropyLoss(ignore_index, label_smoothing=ε) over all rows: per
// counted target y, (1−ε)·(−log p_y) + ε·mean_j(−log p_j); the mean over the
// counted targets of the whole batch (not a mean of per-row means).
inline void cross_entropy(Output& out, const std::vector<Ids>& targets, double label_smoothing = 0.0,
                          int32_t ignore_index = -100) {
  double sum = 0.0;
  int64_t count = 0;
  for (size_t r = 0; r < targets.size(); ++r)
    for (size_t t = 0; t < targets[r].size(); ++t) {
      if (targets[r][t] == ignore_index) continue;
      const Vector& z = out.logits[r][t];
      double mx = -std::numeric_limits<double>::infinity(), se = 0.0;
      for (double v : z) mx = std::max(mx, v);
      for (double v : z) se += std::exp(v - mx);
      const double lse = mx + std::log(se);
      double mean_nll = 0.0;
      for (double v : z) mean_nll += (lse - v) / static_cast<double>(z.size());
      sum += (1.0 - label_smoothing) * (lse - z.at(static_cast<size_t>(targets[r][t]))) + label_smoothing * mean_nll;
      ++count;
    }
  out.tokens = count;
  out.loss = count > 0 ? sum / static_cast<double>(count) : 0.0;
}

}  // namespace tfm::reference
