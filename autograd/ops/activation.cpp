#include "autograd/ops/activation.h"

#include "core/kernels/activation.h"
#include "core/kernels/convert.h"

namespace tfm {

Activation parse_activation(const std::string& name) {
  if (name == "relu") return Activation::Relu;
  if (name == "gelu") return Activation::Gelu;
  if (name == "gelu_tanh") return Activation::GeluTanh;
  TFM_FAIL("unknown activation \"", name, "\" (expected one of: relu, gelu, gelu_tanh)");
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::Relu: return "relu";
    case Activation::Gelu: return "gelu";
    case Activation::GeluTanh: return "gelu_tanh";
  }
  return "?";
}

namespace {
using Kernel = void (*)(float*, const float*, int64_t);
using BackKernel = void (*)(float*, const float*, const float*, int64_t);

// Pointwise op whose backward needs the input.
Variable pointwise_of_input(const Variable& x, const char* name, Kernel fwd, BackKernel bwd) {
  Tensor out = Tensor::empty(x.shape());
  fwd(out.data(), x.data().data(), x.numel());
  return make_result(out, {&x}, name,
                     [x, bwd](const Tensor& g) { bwd(grad_ptr(x), g.data(), x.data().data(), x.numel()); });
}

// Pointwise op whose backward needs only the output (tanh, sigmoid).
Variable pointwise_of_output(const Variable& x, const char* name, Kernel fwd, BackKernel bwd) {
  Tensor out = Tensor::empty(x.shape());
  fwd(out.data(), x.data().data(), x.numel());
  return make_result(out, {&x}, name,
                     [x, out, bwd](const Tensor& g) { bwd(grad_ptr(x), g.data(), out.data(), x.numel()); });
}
}  // namespace

Variable gelu(const Variable& x) { return pointwise_of_input(x, "gelu", gelu_forward, gelu_backward); }
Variable gelu_tanh(const Variable& x) {
  return pointwise_of_input(x, "gelu_tanh", gelu_tanh_forward, gelu_tanh_backward);
}
Variable relu(const Variable& x) { return pointwise_of_input(x, "relu", relu_forward, relu_backward); }
Variable tanh(const Variable& x) { return pointwise_of_output(x, "tanh", tanh_forward, tanh_backward); }
Variable sigmoid(const Variable& x) {
  return pointwise_of_output(x, "sigmoid", sigmoid_forward, sigmoid_backward);
}

Variable activate_bf16(const Variable& x, Activation a) {
  Kernel fwd = a == Activation::Relu ? relu_forward : a == Activation::Gelu ? gelu_forward : gelu_tanh_forward;
  BackKernel bwd = a == Activation::Relu ? relu_backward : a == Activation::Gelu ? gelu_backward : gelu_tanh_backward;
  Tensor out = Tensor::empty(x.shape(), DType::BF16);
  pointwise_to_bf16(fwd, static_cast<bf16_t*>(out.raw_data()), x.data().data(), x.numel());
  return make_result(out, {&x}, activation_name(a),
                     [x, bwd](const Tensor& g) { bwd(grad_ptr(x), g.data(), x.data().data(), x.numel()); });
}

Variable activate(const Variable& x, Activation a) {
  switch (a) {
    case Activation::Relu: return relu(x);
    case Activation::Gelu: return gelu(x);
    case Activation::GeluTanh: return gelu_tanh(x);
  }
  TFM_FAIL("activate: bad activation");
}

}  // namespace tfm
