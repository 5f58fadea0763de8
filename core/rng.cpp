#include "core/rng.h"

#include <algorithm>
#include <cmath>

namespace tfm {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(kM0) * c[0];
    uint64_t p1 = static_cast<uint64_t>(kM1) * c[2];
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += kW0;
    k[1] += kW1;
  }
  return c;
}

std::array<uint32_t, 4> Generator::block(uint64_t index) const {
  return philox4x32_10({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u},
                       {static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)});
}

namespace {
// Blocks [first, first + n) into out[4n], 16 counters at a time as structure of
// arrays, so that the compiler vectorises the rounds (vpmuludq).
void philox_blocks(uint64_t first, int64_t n, uint32_t seed_lo, uint32_t seed_hi, uint32_t* out) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  constexpr int L = 16;
  for (int64_t base = 0; base < n; base += L) {
    alignas(64) uint32_t c0[L], c1[L], c2[L], c3[L];
    for (int j = 0; j < L; ++j) {
      const uint64_t idx = first + static_cast<uint64_t>(base + j);
      c0[j] = static_cast<uint32_t>(idx);
      c1[j] = static_cast<uint32_t>(idx >> 32);
      c2[j] = 0u;
      c3[j] = 0u;
    }
    uint32_t k0 = seed_lo, k1 = seed_hi;
    for (int round = 0; round < 10; ++round) {
#pragma omp simd
      for (int j = 0; j < L; ++j) {
        const uint64_t p0 = static_cast<uint64_t>(kM0) * c0[j];
        const uint64_t p1 = static_cast<uint64_t>(kM1) * c2[j];
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[j] ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[j] ^ k1;
        c1[j] = static_cast<uint32_t>(p1);
        c3[j] = static_cast<uint32_t>(p0);
        c0[j] = n0;
        c2[j] = n2;
      }
      k0 += kW0;
      k1 += kW1;
    }
    const int m = static_cast<int>(std::min<int64_t>(L, n - base));
    for (int j = 0; j < m; ++j) {
      uint32_t* o = out + 4 * (base + j);
      o[0] = c0[j], o[1] = c1[j], o[2] = c2[j], o[3] = c3[j];
    }
  }
}
}  // namespace

void Generator::words(uint64_t first_word, int64_t n, uint32_t* out) const {
  if (n <= 0) return;
  const uint32_t lo = static_cast<uint32_t>(seed_), hi = static_cast<uint32_t>(seed_ >> 32);
  const uint64_t head = first_word % 4;
  // Whole blocks straight into out where aligned to a block; the partial ends through a small buffer.
  int64_t done = 0;
  if (head != 0) {
    uint32_t tmp[4];
    philox_blocks(first_word / 4, 1, lo, hi, tmp);
    for (uint64_t j = head; j < 4 && done < n; ++j) out[done++] = tmp[j];
  }
  const int64_t whole = (n - done) / 4;
  philox_blocks((first_word + static_cast<uint64_t>(done)) / 4, whole, lo, hi, out + done);
  done += whole * 4;
  if (done < n) {
    uint32_t tmp[4];
    philox_blocks((first_word + static_cast<uint64_t>(done)) / 4, 1, lo, hi, tmp);
    for (int j = 0; done < n; ++j) out[done++] = tmp[j];
  }
}

uint32_t Generator::next_u32() { return block(reserve(1))[0]; }

double Generator::next_uniform() {
  auto b = block(reserve(1));
  uint64_t bits = (static_cast<uint64_t>(b[0]) << 21) ^ (b[1] >> 11);  // 53 bits
  return static_cast<double>(bits & ((uint64_t{1} << 53) - 1)) * (1.0 / 9007199254740992.0);
}

uint64_t Generator::next_below(uint64_t n) {
  if (n <= 1) return 0;
  auto b = block(reserve(1));
  uint64_t x = (static_cast<uint64_t>(b[0]) << 32) | b[1];
  return x % n;  // bias below 2^-32 for n < 2^32: negligible for sampling data positions
}

void fill_uniform(float* out, int64_t n, float low, float high, Generator& gen) {
  const int64_t n_blocks = (n + 3) / 4;
  const uint64_t first = gen.reserve(n_blocks);
  const float scale = high - low;
#pragma omp parallel for schedule(static) if (n_blocks > 4096)
  for (int64_t b = 0; b < n_blocks; ++b) {
    auto r = gen.block(first + b);
    for (int j = 0; j < 4 && b * 4 + j < n; ++j) out[b * 4 + j] = low + scale * u32_to_unit_float(r[j]);
  }
}

void fill_normal(float* out, int64_t n, float mean, float std, Generator& gen) {
  // Box-Muller: each block gives two pairs of uniforms, hence four normals.
  const int64_t n_blocks = (n + 3) / 4;
  const uint64_t first = gen.reserve(n_blocks);
#pragma omp parallel for schedule(static) if (n_blocks > 4096)
  for (int64_t b = 0; b < n_blocks; ++b) {
    auto r = gen.block(first + b);
    float z[4];
    for (int p = 0; p < 2; ++p) {
      // u1 in (0, 1] so that log(u1) is finite.
      double u1 = (static_cast<double>(r[2 * p]) + 1.0) * (1.0 / 4294967296.0);
      double u2 = static_cast<double>(r[2 * p + 1]) * (1.0 / 4294967296.0);
      double radius = std::sqrt(-2.0 * std::log(u1));
      z[2 * p] = static_cast<float>(radius * std::cos(2.0 * M_PI * u2));
      z[2 * p + 1] = static_cast<float>(radius * std::sin(2.0 * M_PI * u2));
    }
    for (int j = 0; j < 4 && b * 4 + j < n; ++j) out[b * 4 + j] = mean + std * z[j];
  }
}

}  // namespace tfm
