#pragma once
// Differentiable pieces of the classic attention family (Luong et al. 2015,
// Bahdanau et al. 2015) and of step-by-step recurrent decoding.
#include <vector>

#include "autograd/variable.h"
#include "core/kernels/alignment.h"

namespace tfm {

struct AlignOptions {
  AlignMode mode = AlignMode::Global;
  int64_t window = 0;    // D: local-m covers |s − (q_offset + t)| ≤ D, local-p |s − p_t| ≤ D (σ = D/2)
  int64_t q_offset = 0;  // position of the first target row (step-by-step decoding)
  Tensor key_padding;    // undefined, or I32 [batch, src_len], nonzero = padding
};

// Alignment weights [B, T, S] from scores [B, T, S]; see core/kernels/alignment.h.
// local-p also takes the predicted centres [B, T] (differentiable).
Variable align(const Variable& scores, const AlignOptions& options, const Variable& centres = Variable());
// Additive scores: E[b,t,s] = Σ_k v[k] tanh(hp[b,t,k] + sp[b,s,k]); hp [B,T,K], sp [B,S,K], v [K].
Variable additive_scores(const Variable& hp, const Variable& sp, const Variable& v);
// x[:, t, :] of x [B, T, d] → [B, d].
Variable time_step(const Variable& x, int64_t t);
// Steps [B, d] each → [B, T, d] (T = steps.size()).
Variable stack_steps(const std::vector<Variable>& steps);

}  // namespace tfm
