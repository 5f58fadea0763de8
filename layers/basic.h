#pragma once
// Basic layers: Linear, Embedding, LayerNorm, Dropout, positional encodings.
#include "autograd/ops.h"
#include "layers/module.h"

namespace tfm {

// PyTorch layout: weight [out_features, in_features], bias [out_features].
// Initialised as PyTorch's nn.Linear, U(±1/√in_features), from default_generator().
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Variable forward(const Variable& x) const { return linear(x, weight, bias); }
  Variable operator()(const Variable& x) const { return forward(x); }
  int64_t in_features() const { return weight.dim(1); }
  int64_t out_features() const { return weight.dim(0); }
  Variable weight, bias;  // bias undefined when disabled
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim);  // N(0, 1) as PyTorch
  Variable forward(const Tensor& ids) const { return embedding(ids, weight); }
  Variable operator()(const Tensor& ids) const { return forward(ids); }
  Variable weight;  // [num_embeddings, dim]
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, float eps = 1e-5f, bool elementwise_affine = true);
  Variable forward(const Variable& x) const { return layer_norm(x, weight, bias, eps_); }
  Variable operator()(const Variable& x) const { return forward(x); }
  float eps() const { return eps_; }
  Variable weight, bias;  // ones and zeros; undefined without affine

 private:
  float eps_;
};

// Inverted dropout; active in training mode only, masks from default_generator().
class Dropout : public Module {
 public:
  explicit Dropout(float p);
  Variable forward(const Variable& x) const { return dropout(x, p_, training(), default_generator()); }
  Variable operator()(const Variable& x) const { return forward(x); }
  float p() const { return p_; }

 private:
  float p_;
};

// Sinusoidal positions (Vaswani et al. 2017, section 3.5):
// PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)). No parameters.
Tensor sinusoidal_positions(int64_t max_len, int64_t dim);

}  // namespace tfm
