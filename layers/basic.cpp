#include "layers/basic.h"

#include <cmath>

#include "layers/init.h"

namespace tfm {

Linear::Linear(int64_t in_features, int64_t out_features, bool use_bias) {
  TFM_CHECK(in_features > 0 && out_features > 0, "Linear: features must be positive, found in=", in_features,
            " out=", out_features);
  weight = Variable(Tensor::empty({out_features, in_features}), true);
  const float bound = 1.0f / std::sqrt(static_cast<float>(in_features));
  init::uniform(weight, -bound, bound, default_generator());
  register_parameter("weight", weight, ParamRole::Weight);
  if (use_bias) {
    bias = Variable(Tensor::empty({out_features}), true);
    init::uniform(bias, -bound, bound, default_generator());
    register_parameter("bias", bias, ParamRole::Bias);
  }
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim) {
  TFM_CHECK(num_embeddings > 0 && dim > 0, "Embedding: sizes must be positive, found ", num_embeddings, "x", dim);
  weight = Variable(Tensor::empty({num_embeddings, dim}), true);
  init::normal(weight, 0.0f, 1.0f, default_generator());
  register_parameter("weight", weight, ParamRole::Embedding);
}

LayerNorm::LayerNorm(int64_t dim, float eps, bool elementwise_affine) : eps_(eps) {
  TFM_CHECK(dim > 0, "LayerNorm: dim must be positive, found ", dim);
  TFM_CHECK(eps > 0.0f, "LayerNorm: eps must be positive, found ", eps);
  if (elementwise_affine) {
    weight = Variable(Tensor::full({dim}, 1.0f), true);
    bias = Variable(Tensor::zeros({dim}), true);
    register_parameter("weight", weight, ParamRole::NormWeight);
    register_parameter("bias", bias, ParamRole::NormBias);
  }
}

Dropout::Dropout(float p) : p_(p) {
  TFM_CHECK(p >= 0.0f && p < 1.0f, "Dropout: probability must be in [0, 1), found ", p);
}

Tensor sinusoidal_positions(int64_t max_len, int64_t dim) {
  Tensor pe = Tensor::empty({max_len, dim});
  float* p = pe.data();
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; i < dim; i += 2) {
      const double freq = std::pow(10000.0, -static_cast<double>(i) / static_cast<double>(dim));
      p[pos * dim + i] = static_cast<float>(std::sin(pos * freq));
      if (i + 1 < dim) p[pos * dim + i + 1] = static_cast<float>(std::cos(pos * freq));
    }
  return pe;
}

}  // namespace tfm
