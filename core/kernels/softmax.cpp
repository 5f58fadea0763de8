#include "core/kernels/softmax.h"

#include "core/kernels/vecmath.h"

#include <cmath>
#include <algorithm>
#include <limits>

namespace tfm {
namespace {
constexpr int64_t kParallelMin = 1 << 13;
}

void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, xr[j]);
    if (mx == -std::numeric_limits<float>::infinity()) mx = 0.0f;  // fully masked row: all zeros below
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) {
      yr[j] = vec::exp(xr[j] - mx);
      sum += yr[j];
    }
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
  }
}

void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dout + r * cols;
    const float* y = out + r * cols;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < cols; ++j) dot += g[j] * y[j];
    float* d = dx + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) d[j] += y[j] * (g[j] - dot);
  }
}

void log_softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* yr = out + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, xr[j]);
    if (mx == -std::numeric_limits<float>::infinity()) {  // fully masked row: -inf stays -inf, no NaN
      std::fill(yr, yr + cols, -std::numeric_limits<float>::infinity());
      continue;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) sum += vec::exp(xr[j] - mx);
    const float lse = mx + std::log(sum);
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
  }
}

void log_softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dout + r * cols;
    const float* y = out + r * cols;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; ++j) sum += g[j];
    float* d = dx + r * cols;
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) d[j] += g[j] - vec::exp(y[j]) * sum;
  }
}

}  // namespace tfm

namespace tfm {

namespace {
// The shortlist plus every cluster: the whole vocabulary.
int64_t adaptive_vocab(const int64_t* sizes, int64_t n_clusters, int64_t shortlist) {
  int64_t vocab = shortlist;
  for (int64_t i = 0; i < n_clusters; ++i) vocab += sizes[i];
  return vocab;
}
}  // namespace

void adaptive_log_prob_forward(float* out, const float* head, const float* const* clusters, const int64_t* sizes,
                               int64_t n_clusters, int64_t shortlist, int64_t rows) {
  const int64_t head_cols = shortlist + n_clusters, vocab = adaptive_vocab(sizes, n_clusters, shortlist);
#pragma omp parallel for schedule(static) if (rows * vocab > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* h = head + r * head_cols;
    float* o = out + r * vocab;
    std::copy(h, h + shortlist, o);
    int64_t begin = shortlist;
    for (int64_t i = 0; i < n_clusters; ++i) {
      const float* c = clusters[i] + r * sizes[i];
      const float cluster_lp = h[shortlist + i];
#pragma omp simd
      for (int64_t j = 0; j < sizes[i]; ++j) o[begin + j] = c[j] + cluster_lp;
      begin += sizes[i];
    }
  }
}

void adaptive_log_prob_backward(float* dhead, float* const* dclusters, const float* dout, const int64_t* sizes,
                                int64_t n_clusters, int64_t shortlist, int64_t rows) {
  const int64_t head_cols = shortlist + n_clusters, vocab = adaptive_vocab(sizes, n_clusters, shortlist);
#pragma omp parallel for schedule(static) if (rows * vocab > kParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = dout + r * vocab;
    float* dh = dhead != nullptr ? dhead + r * head_cols : nullptr;
    if (dh != nullptr)
      for (int64_t j = 0; j < shortlist; ++j) dh[j] += g[j];
    int64_t begin = shortlist;
    for (int64_t i = 0; i < n_clusters; ++i) {
      float sum = 0.0f;
      float* dc = dclusters[i] != nullptr ? dclusters[i] + r * sizes[i] : nullptr;
      for (int64_t j = 0; j < sizes[i]; ++j) {
        sum += g[begin + j];
        if (dc != nullptr) dc[j] += g[begin + j];
      }
      if (dh != nullptr) dh[shortlist + i] += sum;
      begin += sizes[i];
    }
  }
}

}  // namespace tfm
