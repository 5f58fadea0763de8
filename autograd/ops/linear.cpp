#include "autograd/ops/linear.h"

#include <algorithm>

#include "core/kernels/elementwise.h"
#include "core/kernels/matmul.h"
#include "core/precision.h"

namespace tfm {
namespace {
const bf16_t* as_bf16(const Tensor& t) { return static_cast<const bf16_t*>(t.raw_data()); }
}  // namespace

Variable linear(const Variable& x, const Variable& weight, const Variable& bias) {
  TFM_CHECK(weight.shape().ndim() == 2, "linear: weight must be 2-D [out, in], found ", weight.shape());
  const int64_t n_out = weight.dim(0), n_in = weight.dim(1);
  TFM_CHECK(x.shape().ndim() >= 1 && x.shape().last() == n_in, "linear: input ", x.shape(),
            " does not match weight ", weight.shape(), " (last dim must be ", n_in, ")");
  if (bias.defined())
    TFM_CHECK(bias.shape() == Shape({n_out}), "linear: bias ", bias.shape(), " does not match weight ",
              weight.shape(), " (expected [", n_out, "])");
  Shape out_shape = x.shape();
  out_shape[out_shape.ndim() - 1] = n_out;
  const int64_t rows = x.shape().rows();
  Tensor out = Tensor::empty(out_shape);
  const float* b = bias.defined() ? bias.data().data() : nullptr;
  const bool x_is_bf16 = x.data().dtype() == DType::BF16;  // activate_bf16's output
  if (bf16_compute() || x_is_bf16) {
    // The bf16 operands stay with the closure: the backward GEMMs read the same roundings.
    Tensor xb = x_is_bf16 ? x.data().reshape({rows, n_in}) : to_bf16_tensor(x.data().data(), {rows, n_in});
    Tensor wb = bf16_weight(weight.data().data(), weight.shape());
    linear_forward_bf16(out.data(), as_bf16(xb), as_bf16(wb), b, rows, n_in, n_out);
    return make_result(out, {&x, &weight, &bias}, "linear", [x, weight, bias, xb, wb, rows, n_in, n_out](const Tensor& g) {
      linear_backward_bf16(grad_ptr(x), grad_ptr(weight), bias.defined() ? grad_ptr(bias) : nullptr, g.data(),
                           as_bf16(xb), as_bf16(wb), rows, n_in, n_out);
    });
  }
  linear_forward(out.data(), x.data().data(), weight.data().data(), b, rows, n_in, n_out);
  return make_result(out, {&x, &weight, &bias}, "linear", [x, weight, bias, rows, n_in, n_out](const Tensor& g) {
    linear_backward(grad_ptr(x), grad_ptr(weight), bias.defined() ? grad_ptr(bias) : nullptr, g.data(),
                    x.data().data(), weight.data().data(), rows, n_in, n_out);
  });
}

namespace {
// True when the parts' buffers follow each other in memory (one [Σ rows, cols] matrix).
bool back_to_back(const std::vector<const float*>& ptrs, const std::vector<int64_t>& sizes) {
  for (size_t i = 0; i + 1 < ptrs.size(); ++i)
    if (ptrs[i] == nullptr || ptrs[i] + sizes[i] != ptrs[i + 1]) return false;
  return !ptrs.empty() && ptrs.back() != nullptr;
}

// db_i += Σ_rows g[:, offset_i : offset_i + width_i] for the parts that need it.
void accumulate_bias_parts(const std::vector<const float*>& db_ptrs, const float* g, int64_t rows, int64_t total,
                           const std::vector<int64_t>& offsets, const std::vector<int64_t>& widths) {
  if (back_to_back(db_ptrs, widths)) {
    sum_rows_accumulate(const_cast<float*>(db_ptrs[0]), g, rows, total);
    return;
  }
  for (size_t i = 0; i < db_ptrs.size(); ++i) {
    if (!db_ptrs[i]) continue;
    float* db = const_cast<float*>(db_ptrs[i]);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < widths[i]; ++j) db[j] += g[r * total + offsets[i] + j];
  }
}

const float* bias_or_null(const Variable& b) { return b.defined() ? b.data().data() : nullptr; }

// Rows of out (stride total) start as bias b (width columns), or zeros without one.
void fill_bias_part(float* out, const float* b, int64_t rows, int64_t width, int64_t total) {
  for (int64_t r = 0; r < rows; ++r) {
    if (b)
      std::copy(b, b + width, out + r * total);
    else
      std::fill(out + r * total, out + r * total + width, 0.0f);
  }
}

std::vector<const float*> grad_ptrs(const std::vector<Variable>& vs) {
  std::vector<const float*> out;
  for (const Variable& v : vs) out.push_back(grad_ptr(v));
  return out;
}

// linear_concat with bf16 operands: one bf16 copy of the input, and of the
// weights as one block when they lie back to back (else one per part); the same
// single-GEMM / per-part structure as the fp32 path.
Variable linear_concat_bf16(const Variable& x, const std::vector<Variable>& weights, const std::vector<Variable>& biases,
                            Tensor out, std::span<const Variable* const> inputs, const std::vector<int64_t>& offsets,
                            const std::vector<int64_t>& widths, const std::vector<int64_t>& w_sizes) {
  const int64_t n_in = x.shape().last(), rows = x.shape().rows(), total = out.shape().last();
  const size_t n = weights.size();
  std::vector<const float*> w_ptrs;
  for (const Variable& w : weights) w_ptrs.push_back(w.data().data());
  const bool w_whole = back_to_back(w_ptrs, w_sizes);
  Tensor xb = to_bf16_tensor(x.data().data(), {rows, n_in});
  std::vector<Tensor> wb;  // one block, or one per part
  std::vector<const bf16_t*> part;  // part i's rows within wb
  if (w_whole) {
    wb.push_back(bf16_weight(w_ptrs[0], {total, n_in}));
    for (size_t i = 0; i < n; ++i) part.push_back(as_bf16(wb[0]) + offsets[i] * n_in);
  } else {
    for (size_t i = 0; i < n; ++i) {
      wb.push_back(bf16_weight(w_ptrs[i], weights[i].shape()));
      part.push_back(as_bf16(wb[i]));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    float* o = out.data() + offsets[i];
    fill_bias_part(o, bias_or_null(biases[i]), rows, widths[i], total);
    if (!w_whole) gemm_bf16(false, true, rows, widths[i], n_in, 1.0f, as_bf16(xb), n_in, part[i], n_in, 1.0f, o, total);
  }
  if (w_whole) gemm_bf16(false, true, rows, total, n_in, 1.0f, as_bf16(xb), n_in, part[0], n_in, 1.0f, out.data(), total);
  return make_result(out, inputs, "linear_concat",
                     [x, weights, biases, xb, wb, part, w_whole, rows, n_in, total, offsets, widths, w_sizes](const Tensor& g) {
    const size_t n = weights.size();
    const std::vector<const float*> dw_ptrs = grad_ptrs(weights), db_ptrs = grad_ptrs(biases);
    Tensor gt = to_bf16_tensor(g.data(), {rows, total});
    const bf16_t* gb = as_bf16(gt);
    if (float* dx = grad_ptr(x)) {
      if (w_whole) {
        gemm_bf16(false, false, rows, n_in, total, 1.0f, gb, total, part[0], n_in, 1.0f, dx, n_in);
      } else {
        for (size_t i = 0; i < n; ++i)
          gemm_bf16(false, false, rows, n_in, widths[i], 1.0f, gb + offsets[i], total, part[i], n_in, 1.0f, dx, n_in);
      }
    }
    if (back_to_back(dw_ptrs, w_sizes)) {
      gemm_bf16(true, false, total, n_in, rows, 1.0f, gb, total, as_bf16(xb), n_in, 1.0f, const_cast<float*>(dw_ptrs[0]), n_in);
    } else {
      for (size_t i = 0; i < n; ++i)
        if (dw_ptrs[i])
          gemm_bf16(true, false, widths[i], n_in, rows, 1.0f, gb + offsets[i], total, as_bf16(xb), n_in, 1.0f,
                    const_cast<float*>(dw_ptrs[i]), n_in);
    }
    accumulate_bias_parts(db_ptrs, g.data(), rows, total, offsets, widths);
  });
}
}  // namespace

Variable linear_concat(const Variable& x, const std::vector<Variable>& weights, const std::vector<Variable>& biases) {
  TFM_CHECK(!weights.empty() && weights.size() == biases.size(), "linear_concat: expected as many biases (",
            biases.size(), ") as weights (", weights.size(), ")");
  const int64_t n_in = x.shape().last(), rows = x.shape().rows();
  std::vector<int64_t> offsets, widths, w_sizes;
  int64_t total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    const Variable& w = weights[i];
    TFM_CHECK(w.shape().ndim() == 2 && w.dim(1) == n_in, "linear_concat: weight ", i, " ", w.shape(),
              " does not match input ", x.shape());
    TFM_CHECK(!biases[i].defined() || biases[i].shape() == Shape({w.dim(0)}), "linear_concat: bias ", i,
              " must be [", w.dim(0), "] or undefined");
    offsets.push_back(total);
    widths.push_back(w.dim(0));
    w_sizes.push_back(w.numel());
    total += w.dim(0);
  }
  Shape out_shape = x.shape();
  out_shape[out_shape.ndim() - 1] = total;
  Tensor out = Tensor::empty(out_shape);
  std::vector<const Variable*> inputs{&x};
  for (auto& w : weights) inputs.push_back(&w);
  for (auto& b : biases) inputs.push_back(&b);
  if (bf16_compute()) return linear_concat_bf16(x, weights, biases, out, inputs, offsets, widths, w_sizes);
  std::vector<const float*> w_ptrs, b_ptrs;
  for (size_t i = 0; i < weights.size(); ++i) {
    w_ptrs.push_back(weights[i].data().data());
    b_ptrs.push_back(bias_or_null(biases[i]));
  }
  const bool no_bias = std::all_of(b_ptrs.begin(), b_ptrs.end(), [](const float* b) { return b == nullptr; });
  if (back_to_back(w_ptrs, w_sizes) && (no_bias || back_to_back(b_ptrs, widths))) {
    linear_forward(out.data(), x.data().data(), w_ptrs[0], b_ptrs[0], rows, n_in, total);
  } else {
    for (size_t i = 0; i < weights.size(); ++i) {
      float* o = out.data() + offsets[i];
      fill_bias_part(o, b_ptrs[i], rows, widths[i], total);
      gemm(false, true, rows, widths[i], n_in, 1.0f, x.data().data(), n_in, w_ptrs[i], n_in, 1.0f, o, total);
    }
  }
  return make_result(out, inputs, "linear_concat",
                     [x, weights, biases, rows, n_in, total, offsets, widths, w_sizes](const Tensor& g) {
    const size_t n = weights.size();
    std::vector<const float*> w_ptrs, dw_ptrs, db_ptrs;
    for (size_t i = 0; i < n; ++i) {
      w_ptrs.push_back(weights[i].data().data());
      dw_ptrs.push_back(grad_ptr(weights[i]));
      db_ptrs.push_back(grad_ptr(biases[i]));
    }
    const float* X = x.data().data();
    if (float* dx = grad_ptr(x)) {
      if (back_to_back(w_ptrs, w_sizes)) {
        gemm(false, false, rows, n_in, total, 1.0f, g.data(), total, w_ptrs[0], n_in, 1.0f, dx, n_in);
      } else {
        for (size_t i = 0; i < n; ++i)
          gemm(false, false, rows, n_in, widths[i], 1.0f, g.data() + offsets[i], total, w_ptrs[i], n_in, 1.0f, dx, n_in);
      }
    }
    if (back_to_back(dw_ptrs, w_sizes)) {
      gemm(true, false, total, n_in, rows, 1.0f, g.data(), total, X, n_in, 1.0f, const_cast<float*>(dw_ptrs[0]), n_in);
    } else {
      for (size_t i = 0; i < n; ++i)
        if (dw_ptrs[i])
          gemm(true, false, widths[i], n_in, rows, 1.0f, g.data() + offsets[i], total, X, n_in, 1.0f,
               const_cast<float*>(dw_ptrs[i]), n_in);
    }
    accumulate_bias_parts(db_ptrs, g.data(), rows, total, offsets, widths);
  });
}

Variable matmul(const Variable& a, const Variable& b, bool ta, bool tb) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  TFM_CHECK(as.ndim() >= 2 && bs.ndim() >= 2, "matmul: operands must be at least 2-D, found ", as, " and ", bs);
  const int64_t M = ta ? as.dim(-1) : as.dim(-2), K = ta ? as.dim(-2) : as.dim(-1);
  const int64_t Kb = tb ? bs.dim(-1) : bs.dim(-2), N = tb ? bs.dim(-2) : bs.dim(-1);
  TFM_CHECK(K == Kb, "matmul: inner dimensions differ: ", as, (ta ? "ᵀ" : ""), " vs ", bs, (tb ? "ᵀ" : ""));
  int64_t batch = 1;
  for (int i = 0; i < as.ndim() - 2; ++i) batch *= as[i];
  const bool b_shared = bs.ndim() == 2;
  if (!b_shared) {
    TFM_CHECK(as.ndim() == bs.ndim(), "matmul: batch dimensions differ: ", as, " vs ", bs);
    for (int i = 0; i < as.ndim() - 2; ++i)
      TFM_CHECK(as[i] == bs[i], "matmul: batch dimensions differ: ", as, " vs ", bs);
  }
  Shape out_shape = as;
  out_shape[as.ndim() - 2] = M;
  out_shape[as.ndim() - 1] = N;
  Tensor out = Tensor::empty(out_shape);
  const int64_t lda = as.dim(-1), ldb = bs.dim(-1);
  const int64_t sa = M * K, sb = b_shared ? 0 : K * N, sc = M * N;
  if (b_shared && !ta) {
    // One large GEMM: fold the batch into the rows.
    gemm(false, tb, batch * M, N, K, 1.0f, a.data().data(), lda, b.data().data(), ldb, 0.0f, out.data(), N);
  } else {
    gemm_batched(batch, ta, tb, M, N, K, 1.0f, a.data().data(), lda, sa, b.data().data(), ldb, sb, 0.0f,
                 out.data(), N, sc);
  }
  return make_result(out, {&a, &b}, "matmul", [a, b, ta, tb, M, N, K, batch, b_shared, lda, ldb, sa, sb, sc](const Tensor& g) {
    const float* A = a.data().data();
    const float* B = b.data().data();
    if (float* dA = grad_ptr(a)) {
      // C = op(A)·op(B): dop(A) = G·op(B)ᵀ
      if (!ta)
        gemm_batched(batch, false, !tb, M, K, N, 1.0f, g.data(), N, sc, B, ldb, sb, 1.0f, dA, lda, sa);
      else  // dA = (G·op(B)ᵀ)ᵀ = op(B)·Gᵀ
        gemm_batched(batch, tb, true, K, M, N, 1.0f, B, ldb, sb, g.data(), N, sc, 1.0f, dA, lda, sa);
    }
    if (float* dB = grad_ptr(b)) {
      if (b_shared && !ta) {  // rows folded: one GEMM sums over the batch
        if (!tb)
          gemm(true, false, K, N, batch * M, 1.0f, A, lda, g.data(), N, 1.0f, dB, ldb);
        else
          gemm(true, false, N, K, batch * M, 1.0f, g.data(), N, A, lda, 1.0f, dB, ldb);
      } else if (b_shared) {
        // Sum over the batch: accumulate matrix by matrix, in order (deterministic).
        for (int64_t i = 0; i < batch; ++i) {
          if (!tb)
            gemm(!ta, false, K, N, M, 1.0f, A + i * sa, lda, g.data() + i * sc, N, 1.0f, dB, ldb);
          else
            gemm(true, ta, N, K, M, 1.0f, g.data() + i * sc, N, A + i * sa, lda, 1.0f, dB, ldb);
        }
      } else if (!tb) {  // dop(B) = op(A)ᵀ·G
        gemm_batched(batch, !ta, false, K, N, M, 1.0f, A, lda, sa, g.data(), N, sc, 1.0f, dB, ldb, sb);
      } else {  // dB = Gᵀ·op(A)
        gemm_batched(batch, true, ta, N, K, M, 1.0f, g.data(), N, sc, A, lda, sa, 1.0f, dB, ldb, sb);
      }
    }
  });
}

}  // namespace tfm
