#include "autograd/ops/elementwise.h"

#include <cstring>

#include "core/kernels/elementwise.h"

namespace tfm {
namespace {

// Returns true when b broadcasts over a's leading dimensions, false when the shapes are equal.
bool broadcast_kind(const char* op, const Shape& a, const Shape& b) {
  if (a == b) return false;
  bool suffix = b.ndim() <= a.ndim() && b.ndim() > 0;
  for (int i = 0; suffix && i < b.ndim(); ++i) suffix = b[b.ndim() - 1 - i] == a[a.ndim() - 1 - i];
  TFM_CHECK(suffix, op, ": shapes ", a, " and ", b,
            " are not compatible (expected equal shapes, or the second equal to the trailing dimensions of the first)");
  return true;
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  const bool bc = broadcast_kind("add", a.shape(), b.shape());
  const int64_t inner = b.numel(), outer = a.numel() / std::max<int64_t>(inner, 1);
  Tensor out = Tensor::empty(a.shape());
  add_forward(out.data(), a.data().data(), b.data().data(), outer, inner, bc);
  return make_result(out, {&a, &b}, "add", [a, b, outer, inner, bc](const Tensor& g) {
    add_backward(grad_ptr(a), grad_ptr(b), g.data(), outer, inner, bc);
  });
}

Variable sub(const Variable& a, const Variable& b) { return add(a, scale(b, -1.0f)); }

Variable mul(const Variable& a, const Variable& b) {
  const bool bc = broadcast_kind("mul", a.shape(), b.shape());
  const int64_t inner = b.numel(), outer = a.numel() / std::max<int64_t>(inner, 1);
  Tensor out = Tensor::empty(a.shape());
  mul_forward(out.data(), a.data().data(), b.data().data(), outer, inner, bc);
  return make_result(out, {&a, &b}, "mul", [a, b, outer, inner, bc](const Tensor& g) {
    mul_backward(grad_ptr(a), grad_ptr(b), g.data(), a.data().data(), b.data().data(), outer, inner, bc);
  });
}

Variable scale(const Variable& x, float alpha) {
  Tensor out = Tensor::empty(x.shape());
  scale_forward(out.data(), x.data().data(), alpha, x.numel());
  return make_result(out, {&x}, "scale",
                     [x, alpha](const Tensor& g) { scale_backward(grad_ptr(x), g.data(), alpha, x.numel()); });
}

Variable sum(const Variable& x) {
  const float* p = x.data().data();
  double s = 0.0;
  for (int64_t i = 0; i < x.numel(); ++i) s += p[i];
  Tensor out = Tensor::full({1}, static_cast<float>(s));
  return make_result(out, {&x}, "sum", [x](const Tensor& g) {
    float* dx = grad_ptr(x);
    const float gv = g.data()[0];
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += gv;
  });
}

Variable mean(const Variable& x) {
  TFM_CHECK(x.numel() > 0, "mean: empty input ", x.shape());
  return scale(sum(x), 1.0f / static_cast<float>(x.numel()));
}

Variable reshape(const Variable& x, const Shape& shape) {
  Tensor out = x.data().reshape(shape);
  return make_result(out, {&x}, "reshape",
                     [x](const Tensor& g) { axpy(grad_ptr(x), g.data(), 1.0f, x.numel()); });
}

Variable concat_last(const std::vector<Variable>& parts) {
  TFM_CHECK(!parts.empty(), "concat_last: no inputs");
  const Shape& s0 = parts[0].shape();
  const int64_t rows = s0.rows();
  int64_t total = 0;
  std::vector<int64_t> widths;
  for (const Variable& p : parts) {
    TFM_CHECK(p.shape().ndim() == s0.ndim() && p.shape().rows() == rows, "concat_last: shapes ", s0, " and ",
              p.shape(), " differ outside the last dimension");
    widths.push_back(p.shape().last());
    total += p.shape().last();
  }
  Shape out_shape = s0;
  out_shape[s0.ndim() - 1] = total;
  Tensor out = Tensor::empty(out_shape);
  float* o = out.data();
  int64_t col = 0;
  for (size_t k = 0; k < parts.size(); ++k) {
    const float* src = parts[k].data().data();
    const int64_t w = widths[k];
    for (int64_t r = 0; r < rows; ++r) std::memcpy(o + r * total + col, src + r * w, w * sizeof(float));
    col += w;
  }
  std::vector<const Variable*> inputs;
  for (const Variable& p : parts) inputs.push_back(&p);
  return make_result(out, inputs, "concat_last", [parts, widths, rows, total](const Tensor& g) {
    const float* gp = g.data();
    int64_t col = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      const int64_t w = widths[k];
      if (float* d = grad_ptr(parts[k]))
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < w; ++j) d[r * w + j] += gp[r * total + col + j];
      col += w;
    }
  });
}

Variable slice_last(const Variable& x, int64_t begin, int64_t end) {
  const int64_t width = x.shape().last(), rows = x.shape().rows();
  TFM_CHECK(0 <= begin && begin <= end && end <= width, "slice_last: range [", begin, ", ", end,
            ") out of bounds for shape ", x.shape());
  Shape out_shape = x.shape();
  const int64_t w = end - begin;
  out_shape[out_shape.ndim() - 1] = w;
  Tensor out = Tensor::empty(out_shape);
  const float* src = x.data().data();
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out.data() + r * w, src + r * width + begin, w * sizeof(float));
  return make_result(out, {&x}, "slice_last", [x, begin, w, width, rows](const Tensor& g) {
    float* d = grad_ptr(x);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < w; ++j) d[r * width + begin + j] += g.data()[r * w + j];
  });
}

}  // namespace tfm
