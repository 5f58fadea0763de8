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
  register_parameter("weight", weight, ParamRole::NormWeight);
  if (use_bias) register_parameter("bias", bias, ParamRole::NormBias);
}

Norm::Norm(NormType type, int64_t dim, float eps, bool use_bias) : type_(type), eps_(eps) {
  make_affine(weight, bias, dim, eps, use_bias);
  register_parameter("weight", weight, ParamRole::NormWeight);
  if (use_bias) register_parameter("bias", bias, ParamRole::NormBias);
}

Variable Norm::forward(const Variable& x) {
  return type_ == NormType::RmsNorm ? rms_norm(x, weight, bias, eps_) : layer_norm(x, weight, bias, eps_);
}

NormTable& norm_registry() {
  static NormTable table("norm");
  return table;
}

std::unique_ptr<SequenceLayer> make_norm(const LayerSlot& slot, const NormContext& context) {
  return norm_registry().create(slot.type, context, slot.options);
}

namespace {
std::unique_ptr<SequenceLayer> builtin_norm(NormType type, const NormContext& ctx, const nlohmann::json& options) {
  TFM_CHECK(options.is_null() || options.empty(), "norm \"", norm_type_name(type),
            "\" takes no options besides eps, found ", options.dump());
  return std::make_unique<Norm>(type, ctx.d_model, ctx.eps, ctx.bias);
}
}  // namespace

TFM_REGISTRY_ADD(
    norm_registry(), "layernorm",
    [](const NormContext& ctx, const nlohmann::json& opts) { return builtin_norm(NormType::LayerNorm, ctx, opts); },
    "LayerNorm (Ba et al. 2016): (x - mean)/sqrt(var + eps)·weight + bias", {{"eps", "number", "layer_norm_eps", ""}});
TFM_REGISTRY_ADD(
    norm_registry(), "rmsnorm",
    [](const NormContext& ctx, const nlohmann::json& opts) { return builtin_norm(NormType::RmsNorm, ctx, opts); },
    "RMSNorm (Zhang & Sennrich 2019): x/sqrt(mean(x²) + eps)·weight (+ bias)",
    {{"eps", "number", "layer_norm_eps", ""}});

}  // namespace tfm
