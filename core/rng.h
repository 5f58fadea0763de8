#pragma once
// Counter-based random numbers (Philox 4x32-10, Salmon et al. 2011): the value
// at position i depends only on (seed, counter), never on the thread that
// computes it, so results are identical for any thread count. A Generator is
// just (seed, offset); saving those two numbers saves the RNG state exactly.
#include <array>
#include <cstdint>

namespace tfm {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }  // Philox blocks (4 x 32 bits) consumed so far
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }

  // Reserves n blocks and returns the first; the caller evaluates blocks
  // [first, first + n) with block(), in any order and on any thread.
  uint64_t reserve(uint64_t n_blocks) {
    uint64_t first = offset_;
    offset_ += n_blocks;
    return first;
  }
  std::array<uint32_t, 4> block(uint64_t index) const;
  // The 32-bit words [first_word, first_word + n) of the stream, word w being
  // block(w / 4)[w % 4]; many blocks at once, vectorised (same values as block()).
  void words(uint64_t first_word, int64_t n, uint32_t* out) const;

  uint32_t next_u32();       // one block per call: simple, for scalar use
  double next_uniform();     // [0, 1), 53 bits
  uint64_t next_below(uint64_t n);  // uniform integer in [0, n)

 private:
  uint64_t seed_;
  uint64_t offset_;
};

// Uniform in [0, 1) from 32 random bits (24-bit mantissa: never returns 1).
inline float u32_to_unit_float(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// out[i] ~ U[low, high) and N(mean, std), filled in parallel, thread-count independent.
void fill_uniform(float* out, int64_t n, float low, float high, Generator& gen);
void fill_normal(float* out, int64_t n, float mean, float std, Generator& gen);

}  // namespace tfm
