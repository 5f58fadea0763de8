#include "autograd/gradcheck.h"

#include <cmath>
#include <numeric>
#include <sstream>

#include "core/rng.h"

namespace tfm {
namespace {

double weighted_sum(const Tensor& out, const Tensor& w) {
  double s = 0.0;
  const float* o = out.data();
  const float* wp = w.data();
  for (int64_t i = 0; i < out.numel(); ++i) s += static_cast<double>(o[i]) * wp[i];
  return s;
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Variable>& inputs, const GradcheckOptions& opt) {
  GradcheckResult result;
  for (const Variable& v : inputs) {
    TFM_CHECK(v.defined(), "gradcheck: input is an undefined variable");
    TFM_CHECK(v.is_leaf(), "gradcheck: inputs must be leaf variables");
    if (v.requires_grad()) const_cast<Variable&>(v).reset_grad();
  }
  // Analytic: backward of Σ W⊙out is out.backward(W).
  Variable out = f(inputs);
  Generator gen(opt.seed);
  Tensor w = Tensor::empty(out.shape());
  fill_uniform(w.data(), w.numel(), -1.0f, 1.0f, gen);
  TFM_CHECK(out.requires_grad(), "gradcheck: output does not depend on any input that requires grad");
  out.backward(w);

  std::ostringstream report;
  double err_sq = 0.0, ref_sq = 0.0;
  int failures = 0;
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Variable& v = inputs[k];
    if (!v.requires_grad()) continue;
    TFM_CHECK(v.grad().defined(), "gradcheck: input ", k, " received no gradient");
    const Tensor analytic = v.grad().copy();
    float* x = v.data().data();
    const int64_t n = v.numel();
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    if (n > opt.max_elements) {  // sample without replacement (partial Fisher-Yates)
      for (int64_t i = 0; i < opt.max_elements; ++i) std::swap(idx[i], idx[i + gen.next_below(n - i)]);
      idx.resize(opt.max_elements);
    }
    for (int64_t i : idx) {
      const float saved = x[i];
      const double h = opt.step * std::max(1.0, std::fabs(static_cast<double>(saved)));
      x[i] = static_cast<float>(saved + h);
      const double hp = static_cast<double>(x[i]) - saved;  // the step float32 actually took
      const double lp = weighted_sum(f(inputs).data(), w);
      x[i] = static_cast<float>(saved - h);
      const double hm = saved - static_cast<double>(x[i]);
      const double lm = weighted_sum(f(inputs).data(), w);
      x[i] = saved;
      const double numeric = (lp - lm) / (hp + hm);
      const double a = analytic.data()[i];
      const double diff = std::fabs(a - numeric);
      err_sq += diff * diff;
      ref_sq += numeric * numeric;
      result.max_abs_error = std::max(result.max_abs_error, diff);
      ++result.checked;
      if (diff > opt.atol + opt.rtol * std::fabs(numeric)) {
        result.ok = false;
        if (failures++ < 8)
          report << "input " << k << " " << v.shape() << " element " << i << ": analytic " << a << ", numeric "
                 << numeric << "\n";
      }
    }
  }
  result.global_rel_error = ref_sq > 0 ? std::sqrt(err_sq / ref_sq) : std::sqrt(err_sq);
  if (result.global_rel_error > opt.max_global_rel) {
    result.ok = false;
    report << "global relative error " << result.global_rel_error << " > " << opt.max_global_rel << "\n";
  }
  if (failures > 8) report << "... " << failures << " elements failed in all\n";
  result.report = report.str();
  return result;
}

}  // namespace tfm
