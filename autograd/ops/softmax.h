#pragma once
#include "autograd/variable.h"

namespace tfm {

Variable softmax(const Variable& x);      // over the last dimension
Variable log_softmax(const Variable& x);  // over the last dimension

}  // namespace tfm
