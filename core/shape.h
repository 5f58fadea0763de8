#pragma once
// Shape: up to kMaxDims extents stored inline (no heap allocation).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <span>
#include <string>

namespace tfm {

class Shape {
 public:
  static constexpr int kMaxDims = 8;
  static constexpr int64_t kMaxNumel = int64_t{1} << 60;  // larger products are rejected (bytes fit in 63 bits)

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  // Negative index counts from the back: dim(-1) is the last extent.
  int64_t dim(int i) const;
  int64_t numel() const;
  // Product of all extents but the last (rows of a row-major matrix view).
  int64_t rows() const { return ndim_ == 0 ? 1 : numel() / dims_[ndim_ - 1]; }
  int64_t last() const { return ndim_ == 0 ? 1 : dims_[ndim_ - 1]; }

  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + ndim_; }

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

  std::string str() const;  // "[2, 3, 4]"

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace tfm
