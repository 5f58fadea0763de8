#include "core/kernels/alignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "core/error.h"
#include "core/kernels/vecmath.h"

namespace tfm {
namespace {

constexpr int64_t kParallelMinWork = 1 << 14;

// Window [lo, hi) of row (b, t) and, for local-p, its centre.
void row_window(const AlignDims& d, const float* centres, int64_t b, int64_t t, int64_t* lo, int64_t* hi,
                double* centre) {
  *lo = 0, *hi = d.src_len, *centre = 0.0;
  if (d.mode == AlignMode::LocalM) {
    const int64_t p = d.q_offset + t;
    *lo = std::max<int64_t>(0, p - d.window);
    *hi = std::min<int64_t>(d.src_len, p + d.window + 1);
  } else if (d.mode == AlignMode::LocalP) {
    const double p = centres[b * d.q_len + t];
    *centre = p;
    *lo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(p - static_cast<double>(d.window))));
    *hi = std::min<int64_t>(d.src_len, static_cast<int64_t>(std::floor(p + static_cast<double>(d.window))) + 1);
  }
  if (*hi < *lo) *hi = *lo;
}

double sigma(const AlignDims& d) { return std::max(0.5, static_cast<double>(d.window) / 2.0); }

void check(const AlignDims& d, const float* centres) {
  TFM_CHECK(d.batch > 0 && d.q_len > 0 && d.src_len > 0, "align: sizes must be positive: batch=", d.batch,
            " q_len=", d.q_len, " src_len=", d.src_len);
  TFM_CHECK(d.window >= 0, "align: window must be >= 0, found ", d.window);
  TFM_CHECK(d.mode != AlignMode::LocalP || centres != nullptr, "align: local-p needs predicted centres");
}

}  // namespace

void align_forward(float* A, float* soft, const float* E, const float* centres, const AlignDims& d) {
  check(d, centres);
  const int64_t S = d.src_len, rows = d.batch * d.q_len;
  const double inv_two_var = 1.0 / (2.0 * sigma(d) * sigma(d));
#pragma omp parallel for schedule(static) if (rows * S > kParallelMinWork)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / d.q_len, t = r % d.q_len;
    const float* e = E + r * S;
    float* a = A + r * S;
    float* p = soft + r * S;
    std::fill(a, a + S, 0.0f);
    std::fill(p, p + S, 0.0f);
    int64_t lo, hi;
    double centre;
    row_window(d, centres, b, t, &lo, &hi, &centre);
    const int32_t* pad = d.key_padding ? d.key_padding + b * S : nullptr;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t s = lo; s < hi; ++s)
      if (!(pad && pad[s])) mx = std::max(mx, e[s]);
    if (mx == -std::numeric_limits<float>::infinity()) continue;  // nothing visible: zeros
    float sum = 0.0f;
    for (int64_t s = lo; s < hi; ++s)
      if (!(pad && pad[s])) sum += (p[s] = vec::exp(e[s] - mx));
    const float inv = 1.0f / sum;
    for (int64_t s = lo; s < hi; ++s) {
      p[s] *= inv;
      a[s] = p[s];
      if (d.mode == AlignMode::LocalP) {
        const double x = static_cast<double>(s) - centre;
        a[s] = static_cast<float>(p[s] * std::exp(-x * x * inv_two_var));
      }
    }
  }
}

void align_backward(float* dE, float* dcentres, const float* dA, const float* soft, const float* centres,
                    const AlignDims& d) {
  check(d, centres);
  const int64_t S = d.src_len, rows = d.batch * d.q_len;
  const double inv_two_var = 1.0 / (2.0 * sigma(d) * sigma(d)), inv_var = 2.0 * inv_two_var;
#pragma omp parallel for schedule(static) if (rows * S > kParallelMinWork)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / d.q_len, t = r % d.q_len;
    const float* g = dA + r * S;
    const float* p = soft + r * S;
    int64_t lo, hi;
    double centre;
    row_window(d, centres, b, t, &lo, &hi, &centre);
    // A = p ⊙ w (w = 1 but for local-p): dp = dA ⊙ w; dE = p ⊙ (dp − Σ p·dp); dcentre = Σ dA · p · ∂w/∂centre.
    double dot = 0.0, dc = 0.0;
    for (int64_t s = lo; s < hi; ++s) {
      double w = 1.0;
      if (d.mode == AlignMode::LocalP) {
        const double x = static_cast<double>(s) - centre;
        w = std::exp(-x * x * inv_two_var);
        dc += static_cast<double>(g[s]) * p[s] * w * x * inv_var;  // ∂w/∂centre = w · (s − centre)/σ²
      }
      dot += static_cast<double>(p[s]) * g[s] * w;
    }
    float* de = dE + r * S;
    for (int64_t s = lo; s < hi; ++s) {
      double w = 1.0;
      if (d.mode == AlignMode::LocalP) {
        const double x = static_cast<double>(s) - centre;
        w = std::exp(-x * x * inv_two_var);
      }
      de[s] += static_cast<float>(p[s] * (g[s] * w - dot));
    }
    if (dcentres && d.mode == AlignMode::LocalP) dcentres[r] += static_cast<float>(dc);
  }
}

void additive_scores_forward(float* E, const float* Hp, const float* Sp, const float* v, int64_t batch, int64_t q_len,
                             int64_t src_len, int64_t k) {
#pragma omp parallel for collapse(2) schedule(static) if (batch * q_len * src_len * k > kParallelMinWork)
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < q_len; ++t) {
      const float* h = Hp + (b * q_len + t) * k;
      for (int64_t s = 0; s < src_len; ++s) {
        const float* x = Sp + (b * src_len + s) * k;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < k; ++j) acc += v[j] * vec::tanh(h[j] + x[j]);
        E[(b * q_len + t) * src_len + s] = acc;
      }
    }
}

void additive_scores_backward(float* dHp, float* dSp, float* dv, const float* dE, const float* Hp, const float* Sp,
                              const float* v, int64_t batch, int64_t q_len, int64_t src_len, int64_t k) {
  // One batch entry per iteration: its dSp rows are written by one thread; dv
  // is summed per thread and the partial sums added in thread order
  // (deterministic for a given thread count, as the static schedule is).
  const bool parallel = batch * q_len * src_len * k > kParallelMinWork;
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<float> dv_parts(static_cast<size_t>(threads * k), 0.0f);
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
  for (int64_t b = 0; b < batch; ++b) {
    float* dv_local = dv_parts.data() + omp_get_thread_num() * k;
    for (int64_t t = 0; t < q_len; ++t) {
      const float* h = Hp + (b * q_len + t) * k;
      for (int64_t s = 0; s < src_len; ++s) {
        const float g = dE[(b * q_len + t) * src_len + s];
        if (g == 0.0f) continue;
        const float* x = Sp + (b * src_len + s) * k;
        for (int64_t j = 0; j < k; ++j) {
          const float th = vec::tanh(h[j] + x[j]);
          const float dz = g * v[j] * (1.0f - th * th);
          if (dHp) dHp[(b * q_len + t) * k + j] += dz;
          if (dSp) dSp[(b * src_len + s) * k + j] += dz;
          dv_local[j] += g * th;
        }
      }
    }
  }
  if (dv)
    for (int i = 0; i < threads; ++i)
      for (int64_t j = 0; j < k; ++j) dv[j] += dv_parts[i * k + j];
}

}  // namespace tfm
