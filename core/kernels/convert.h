#pragma once
// fp32 <-> bf16. A bf16 value is the upper 16 bits of an IEEE-754 binary32
// (sign, 8 exponent bits, 7 mantissa bits), so widening is exact: bits << 16.
// Narrowing rounds to nearest, ties to even, on every input, subnormals
// included (as PyTorch's c10::BFloat16 and oneDNN's reference conversion do;
// the AVX512-BF16 instruction VCVTNEPS2BF16 instead treats subnormal inputs
// as zero). Finite values that round past the largest bf16 (about 3.39e38)
// become ±Inf; ±Inf stays ±Inf; a NaN stays a NaN of the same sign, made
// quiet (so that a NaN whose payload sits in the low 16 bits does not become
// Inf). The array forms vectorise (plain integer arithmetic in `omp simd`
// loops) and run in parallel above 64K elements.
#include <bit>
#include <cstdint>

namespace tfm {

using bf16_t = uint16_t;  // raw bits

inline bf16_t to_bf16(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
  // Adding 0x7fff plus the lowest kept bit carries into the kept bits exactly when the dropped
  // half is above one half, or equal to it with an odd kept part (ties to even).
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return static_cast<bf16_t>(nan ? (u >> 16) | 0x0040u : rounded);
}

inline float from_bf16(bf16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

void f32_to_bf16(const float* src, bf16_t* dst, int64_t n);
void bf16_to_f32(const bf16_t* src, float* dst, int64_t n);
// out = bf16(f(x)) for a pointwise fp32 kernel f (an activation); the fp32 result
// lives only in a transient buffer.
void pointwise_to_bf16(void (*f)(float* out, const float* x, int64_t n), bf16_t* out, const float* x, int64_t n);

}  // namespace tfm
