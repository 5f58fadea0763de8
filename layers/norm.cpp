#include "layers/norm.h"

namespace tfm {

NormType parse_norm_type(const std::string& name) {
  if (name == "layernorm") return NormType::LayerNorm;
  if (name == "rmsnorm") return NormType::RmsNorm;
  TFM_CHECK(false, "norm type: expected \"layernorm\" or \"rmsnorm\", found \"", name, "\"");
  return NormType::LayerNorm;
}

const char* norm_type_name(NormType type) { return type == NormType::RmsNorm ? "rmsnorm" : "layernorm"; }

namespace {
// weight ones, bias zeros (undefined without bias).
void make_affine(Variable& weight, Variable& bias, int64_t dim, float eps, bool use_bias) {
  TFM_CHECK(dim > 0, "norm: dim must be positive, found ", dim);
  TFM_CHECK(eps > 0.0f, "norm: eps must be positive, found ", eps);
  weight = Variable(Tensor::full({dim}, 1.0f), true);
  if (use_bias) bias = Variable(Tensor::zeros({dim}), true);
}
}  // namespace

RMSNorm::RMSNorm(int64_t dim, float eps, bool use_bias) : eps_(eps) {
  make_affine(weight, bias, dim, eps, use_bias);
  register_parameter("weight", weight);
  if (use_bias) register_parameter("bias", bias);
}

Norm::Norm(NormType type, int64_t dim, float eps, bool use_bias) : type_(type), eps_(eps) {
  make_affine(weight, bias, dim, eps, use_bias);
  register_parameter("weight", weight);
  if (use_bias) register_parameter("bias", bias);
}

Variable Norm::forward(const Variable& x) const {
  return type_ == NormType::RmsNorm ? rms_norm(x, weight, bias, eps_) : layer_norm(x, weight, bias, eps_);
}

}  // namespace tfm
