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
// The activation written straight in bf16, for a linear layer under Precision::BF16
// (its GEMM operand: half the memory and no separate rounding pass). The output's
// data is a BF16 tensor, which only linear() takes; its gradient is fp32 as usual.
Variable activate_bf16(const Variable& x, Activation a);

}  // namespace tfm
