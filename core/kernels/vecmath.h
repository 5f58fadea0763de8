#pragma once
// Vectorisable float exp, erf and tanh for the elementwise kernels: plain
// arithmetic and bit casts that GCC turns into AVX-512 code inside
// `#pragma omp simd` loops (libm's expf/erff are scalar calls there).
#include <bit>
#include <cstdint>

namespace tfm::vec {

// e^x with about 1 ulp error (Cephes expf: x = n·ln2 + r, |r| <= ln2/2, degree-6 polynomial).
// exp(-inf) = 0 and very negative arguments flush to 0 (masked attention scores rely on it);
// arguments above 88 saturate at e^88.
inline float exp(float x) {
  const bool underflow = x < -87.33654f;
  x = x > 88.0f ? 88.0f : x;  // e^88 ≈ 1.7e38: the exponent stays below 128
  x = underflow ? 0.0f : x;
  const float n = __builtin_rintf(x * 1.44269504088896341f);  // rintf vectorises (floorf does not under trapping math)
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  const float result = y * std::bit_cast<float>(bits);
  return underflow ? 0.0f : result;
}

// erf(x), absolute error below 5e-7 (Abramowitz & Stegun 7.1.26: 1.5e-7, plus float rounding).
inline float erf(float x) {
  const float a = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * exp(-a * a);
  return x < 0.0f ? -y : y;
}

// tanh(x) = 1 − 2/(e^{2x} + 1), odd-symmetric, absolute error about 1e-7.
inline float tanh(float x) {
  const float a = x < 0.0f ? -x : x;
  const float y = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);
  return x < 0.0f ? -y : y;
}

}  // namespace tfm::vec
