#include "core/shape.h"

#include "core/error.h"

namespace tfm {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  TFM_CHECK(dims.size() <= static_cast<size_t>(kMaxDims), "Shape: at most ", kMaxDims,
            " dimensions supported, got ", dims.size());
  ndim_ = static_cast<int>(dims.size());
  for (int i = 0; i < ndim_; ++i) {
    // -1 marks the extent Tensor::reshape infers; tensors themselves reject it (Tensor::empty).
    TFM_CHECK(dims[i] >= -1, "Shape: negative extent ", dims[i], " in dimension ", i);
    dims_[i] = dims[i];
  }
  // Tensors index with int64_t and size bytes as numel · dtype size: a product past 2^60
  // would wrap (a crafted file's [2^31, 2^31, 2^31, 8] to 0 elements).
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) {
    if (dims_[i] < 0) continue;
    TFM_CHECK(!__builtin_mul_overflow(n, dims_[i], &n) && n <= kMaxNumel, "Shape: ", str(), " has more than 2^60 elements");
  }
}

int64_t Shape::dim(int i) const {
  int j = i < 0 ? i + ndim_ : i;
  TFM_CHECK(j >= 0 && j < ndim_, "Shape::dim: index ", i, " out of range for ", str());
  return dims_[j];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (ndim_ != o.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace tfm
