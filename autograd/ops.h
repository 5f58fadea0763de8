#pragma once
// All differentiable ops. Each op computes its result with a core kernel and
// records a closure calling the matching backward kernel.
#include "autograd/ops/activation.h"
#include "autograd/ops/alignment.h"
#include "autograd/ops/attention.h"
#include "autograd/ops/dropout.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/embedding.h"
#include "autograd/ops/linear.h"
#include "autograd/ops/loss.h"
#include "autograd/ops/norm.h"
#include "autograd/ops/rope.h"
#include "autograd/ops/softmax.h"
#include "autograd/variable.h"
