#pragma once
#include "autograd/variable.h"

namespace tfm {

// a + b, a − b, a ⊙ b: same shape, or b's shape equal to the trailing
// dimensions of a's (broadcast over a's leading dimensions, like a bias).
Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable scale(const Variable& x, float alpha);
Variable sum(const Variable& x);   // all elements → [1]
Variable mean(const Variable& x);  // all elements → [1]
// View with a new shape (one extent may be -1); the gradient is reshaped back.
Variable reshape(const Variable& x, const Shape& shape);
// Concatenation along the last dimension.
Variable concat_last(const std::vector<Variable>& parts);
// Columns [begin, end) of the last dimension.
Variable slice_last(const Variable& x, int64_t begin, int64_t end);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }

}  // namespace tfm
