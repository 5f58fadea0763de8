#pragma once
// Tensor: an N-d array over shared, 64-byte aligned storage. Always contiguous
// row-major; views (reshape, slice of the first dimension) share storage and
// cost nothing; copy() makes an independent buffer.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/error.h"
#include "core/shape.h"

namespace tfm {

enum class DType : uint8_t { F32, BF16, I32 };  // I32: token ids
size_t dtype_size(DType d);
const char* dtype_name(DType d);

class Storage {
 public:
  explicit Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_;
  size_t bytes_;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor: defined() is false

  static Tensor empty(const Shape& shape, DType dtype = DType::F32);  // uninitialised
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, float value);
  static Tensor from(const Shape& shape, std::span<const float> values);
  static Tensor from_ids(const Shape& shape, std::span<const int32_t> ids);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t dim(int i) const { return shape_.dim(i); }
  int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  float* data() const;  // F32 only; throws otherwise
  int32_t* data_i32() const;  // I32 only
  void* raw_data() const;
  float item() const;  // value of a one-element F32 tensor
  float at(int64_t flat_index) const { return data()[flat_index]; }

  // Views sharing storage. reshape accepts one -1 extent.
  Tensor reshape(const Shape& shape) const;
  Tensor slice(int64_t begin, int64_t end) const;  // along the first dimension
  Tensor operator[](int64_t i) const;              // drops the first dimension

  Tensor copy() const;               // independent buffer, same values
  void copy_from(const Tensor& src);  // same numel and dtype
  void fill(float value);
  void zero();

  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
  std::string str(int64_t max_values = 8) const;

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::F32;
};

}  // namespace tfm
