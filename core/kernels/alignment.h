#pragma once
// Alignment kernels of the attention family of Luong et al. (2015) and
// Bahdanau et al. (2015), over scores E [batch, T, S] of T target positions
// against S source positions (row-major, one [T, S] matrix per batch entry).
//
// Alignment weights A from the scores:
//   global   A[t, s] = softmax over the visible s of E[t, s]
//   local-m  the same over the window |s − (q_offset + t)| ≤ D only (zeros elsewhere)
//   local-p  the same over |s − p_t| ≤ D, times exp(−(s − p_t)² / (2σ²)), σ = D/2,
//            where p_t ∈ [0, S] is a predicted (differentiable) centre
// "Visible" also excludes padded source positions (key_padding nonzero). A row
// with nothing visible gets zero weights.
#include <cstdint>

namespace tfm {

enum class AlignMode { Global, LocalM, LocalP };

struct AlignDims {
  int64_t batch = 1, q_len = 1, src_len = 1;
  AlignMode mode = AlignMode::Global;
  int64_t window = 0;                    // D, for the local modes (>= 0)
  int64_t q_offset = 0;                  // position of target row 0 (local-m; step-by-step decoding)
  const int32_t* key_padding = nullptr;  // [batch, src_len], nonzero = padding
};

// A: weights; soft: the softmax part before the Gaussian (same as A except for
// local-p), kept for the backward pass. centres: [batch, q_len] for local-p, else null.
void align_forward(float* A, float* soft, const float* E, const float* centres, const AlignDims& d);
// Accumulates dE (and dcentres for local-p, when not null) from dA.
void align_backward(float* dE, float* dcentres, const float* dA, const float* soft, const float* centres,
                    const AlignDims& d);

// Additive (concat) scores, Bahdanau et al. 2015 / Luong et al. "concat":
// E[b, t, s] = Σ_k v[k] · tanh(Hp[b, t, k] + Sp[b, s, k]), Hp [B, T, K], Sp [B, S, K].
void additive_scores_forward(float* E, const float* Hp, const float* Sp, const float* v, int64_t batch, int64_t q_len,
                             int64_t src_len, int64_t k);
// Accumulates dHp, dSp, dv (each may be null).
void additive_scores_backward(float* dHp, float* dSp, float* dv, const float* dE, const float* Hp, const float* Sp,
                              const float* v, int64_t batch, int64_t q_len, int64_t src_len, int64_t k);

}  // namespace tfm
