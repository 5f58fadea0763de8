#pragma once
// Finite-difference gradient check for ops and modules (tests, and users
// checking their own layers). The output is reduced with a fixed random weight
// tensor W, L = Σ W⊙f(inputs) accumulated in double (a plain sum would hide
// backward bugs whose errors cancel, such as a layer-norm backward missing a
// term), and each input element's analytic gradient is compared with the
// central difference (L(x+h) − L(x−h)) / 2h. The kernels run in float32, so h
// and the tolerances are sized for float32 rounding.
#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace tfm {

struct GradcheckOptions {
  double step = 1e-2;        // h, relative to max(1, |x|)
  double atol = 2e-3;        // |analytic − numeric| <= atol + rtol·|numeric|, per element
  double rtol = 2e-2;
  // ‖analytic − numeric‖ / ‖numeric‖ over all elements. A gradient off by 1% everywhere
  // gives 1e-2 and must fail (test_gradcheck); correct ops measure below 5e-4.
  double max_global_rel = 2e-3;
  int64_t max_elements = 400;    // per input; larger inputs are sampled (fixed seed)
  uint64_t seed = 1234;          // of the weight tensor W and of the sampling
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  double global_rel_error = 0.0;
  int64_t checked = 0;
  std::string report;  // first failures, with input index, element and both values
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

// inputs: leaves; those with requires_grad are checked.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Variable>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace tfm
