#include "core/tensor.h"

#include <cstring>
#include <sstream>

#include "core/allocator.h"

namespace tfm {

size_t dtype_size(DType d) { return d == DType::BF16 ? 2 : 4; }
const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
  }
  return "?";
}

Storage::Storage(size_t bytes) : data_(storage_allocate(bytes)), bytes_(bytes) {}
Storage::~Storage() { storage_free(data_, bytes_); }

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t extent : shape) TFM_CHECK(extent >= 0, "Tensor: negative extent in shape ", shape);
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = std::make_shared<Storage>(static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& shape, float value) {
  Tensor t = empty(shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from(const Shape& shape, std::span<const float> values) {
  TFM_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from: shape ", shape,
            " needs ", shape.numel(), " values, got ", values.size());
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from_ids(const Shape& shape, std::span<const int32_t> ids) {
  TFM_CHECK(static_cast<int64_t>(ids.size()) == shape.numel(), "Tensor::from_ids: shape ", shape,
            " needs ", shape.numel(), " ids, got ", ids.size());
  Tensor t = empty(shape, DType::I32);
  if (!ids.empty()) std::memcpy(t.data_i32(), ids.data(), ids.size() * sizeof(int32_t));
  return t;
}

float* Tensor::data() const {
  TFM_CHECK(defined(), "Tensor::data: undefined tensor");
  TFM_CHECK(dtype_ == DType::F32, "Tensor::data: expected F32 tensor, found ", dtype_name(dtype_));
  return static_cast<float*>(storage_->data()) + offset_;
}

int32_t* Tensor::data_i32() const {
  TFM_CHECK(defined(), "Tensor::data_i32: undefined tensor");
  TFM_CHECK(dtype_ == DType::I32, "Tensor::data_i32: expected I32 tensor, found ", dtype_name(dtype_));
  return static_cast<int32_t*>(storage_->data()) + offset_;
}

void* Tensor::raw_data() const {
  TFM_CHECK(defined(), "Tensor::raw_data: undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * dtype_size(dtype_);
}

float Tensor::item() const {
  TFM_CHECK(numel() == 1, "Tensor::item: expected one element, found shape ", shape_);
  return data()[0];
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.ndim(); ++i) {
    if (s[i] == -1) {
      TFM_CHECK(infer < 0, "reshape: more than one -1 in ", shape);
      infer = i;
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    TFM_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape ", shape_, " to ", shape);
    s[infer] = numel() / known;
  }
  TFM_CHECK(s.numel() == numel(), "reshape: cannot reshape ", shape_, " (", numel(), " elements) to ", s);
  Tensor t = *this;
  t.shape_ = s;
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  TFM_CHECK(ndim() >= 1, "slice: expected at least 1 dimension, found shape ", shape_);
  TFM_CHECK(0 <= begin && begin <= end && end <= shape_[0], "slice: range [", begin, ", ", end,
            ") out of bounds for shape ", shape_);
  Tensor t = *this;
  int64_t inner = shape_[0] == 0 ? 0 : numel() / shape_[0];
  t.offset_ += begin * inner;
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::operator[](int64_t i) const {
  TFM_CHECK(ndim() >= 1, "index: expected at least 1 dimension, found shape ", shape_);
  TFM_CHECK(0 <= i && i < shape_[0], "index: ", i, " out of bounds for shape ", shape_);
  Tensor t = slice(i, i + 1);
  t.shape_ = Shape(std::span<const int64_t>(shape_.begin() + 1, shape_.ndim() - 1));
  return t;
}

Tensor Tensor::copy() const {
  Tensor t = empty(shape_, dtype_);
  if (numel() > 0) std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  TFM_CHECK(src.numel() == numel() && src.dtype() == dtype_, "copy_from: expected ", shape_, " ",
            dtype_name(dtype_), ", found ", src.shape(), " ", dtype_name(src.dtype()));
  if (numel() > 0 && raw_data() != src.raw_data()) std::memcpy(raw_data(), src.raw_data(), nbytes());
}

void Tensor::fill(float value) {
  float* p = data();
  const int64_t n = numel();
#pragma omp parallel for simd if (n > (1 << 16)) schedule(static)
  for (int64_t i = 0; i < n; ++i) p[i] = value;
}

void Tensor::zero() {
  if (numel() > 0) std::memset(raw_data(), 0, nbytes());
}

std::string Tensor::str(int64_t max_values) const {
  std::ostringstream os;
  os << "Tensor(" << shape_ << ", " << dtype_name(dtype_);
  if (defined() && dtype_ == DType::F32) {
    os << ", [";
    for (int64_t i = 0; i < std::min(numel(), max_values); ++i) os << (i ? ", " : "") << data()[i];
    if (numel() > max_values) os << ", ...";
    os << "]";
  }
  return os.str() + ")";
}

}  // namespace tfm
