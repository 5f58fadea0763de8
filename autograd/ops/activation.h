#pragma once
#include <string>

#include "autograd/variable.h"

namespace tfm {

enum class Activation { Relu, Gelu, GeluTanh };
// "relu", "gelu" (exact erf form), "gelu_tanh"; throws naming the value otherwise.
Activation parse_activation(const std::string& name);
const char* activation_name(Activation a);

Variable gelu(const Variable& x);
Variable gelu_tanh(const Variable& x);
Variable relu(const Variable& x);
Variable tanh(const Variable& x);
Variable sigmoid(const Variable& x);
Variable activate(const Variable& x, Activation a);

}  // namespace tfm
