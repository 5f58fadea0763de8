#include "layers/attention.h"

#include <cstring>

namespace tfm {

MultiHeadAttention::MultiHeadAttention(int64_t d_model, int64_t n_head, float dropout, int64_t window)
    : q(d_model, d_model), k(d_model, d_model), v(d_model, d_model), out(d_model, d_model), n_head_(n_head),
      dropout_(dropout), window_(window) {
  TFM_CHECK(n_head > 0 && d_model % n_head == 0, "MultiHeadAttention: d_model ", d_model,
            " is not divisible by n_head ", n_head);
  TFM_CHECK(dropout >= 0.0f && dropout < 1.0f, "MultiHeadAttention: dropout must be in [0, 1), found ", dropout);
  TFM_CHECK(window >= 0, "MultiHeadAttention: window must be >= 0, found ", window);
  register_module("q", q);
  register_module("k", k);
  register_module("v", v);
  register_module("out", out);
  // Lay q, k and v back to back (values and gradients) so that linear_concat
  // computes the three projections, and their gradients, as single GEMMs.
  Tensor w = Tensor::empty({3 * d_model, d_model}), b = Tensor::empty({3 * d_model});
  Tensor gw = Tensor::zeros({3 * d_model, d_model}), gb = Tensor::zeros({3 * d_model});
  Linear* parts[3] = {&q, &k, &v};
  for (int i = 0; i < 3; ++i) {
    Tensor wi = w.slice(i * d_model, (i + 1) * d_model), bi = b.slice(i * d_model, (i + 1) * d_model);
    wi.copy_from(parts[i]->weight.data());
    bi.copy_from(parts[i]->bias.data());
    parts[i]->weight.mutable_data() = wi;
    parts[i]->bias.mutable_data() = bi;
    parts[i]->weight.impl()->grad = gw.slice(i * d_model, (i + 1) * d_model);
    parts[i]->bias.impl()->grad = gb.slice(i * d_model, (i + 1) * d_model);
  }
}

Variable MultiHeadAttention::forward(const Variable& query, const Variable& memory, const AttentionMask& mask,
                                     Tensor* weights) {
  AttentionOptions opt;
  opt.n_head = n_head_;
  opt.causal = mask.causal;
  opt.window = window_;
  opt.key_padding = mask.key_padding;
  opt.dropout = dropout_;
  opt.training = training();
  opt.generator = &default_generator();
  opt.weights = weights;
  opt.bf16_output = true;  // under bf16 GEMMs: straight to the output projection's operand
  const int64_t d = q.out_features();
  if (query.impl() == memory.impl()) {  // self-attention: one [B, T, 3d] projection
    Variable qkv = linear_concat(query, {q.weight, k.weight, v.weight}, {q.bias, k.bias, v.bias});
    return out(scaled_dot_product_attention({qkv, 0}, {qkv, d}, {qkv, 2 * d}, d, opt));
  }
  Variable kv = linear_concat(memory, {k.weight, v.weight}, {k.bias, v.bias});
  return out(scaled_dot_product_attention({q(query), 0}, {kv, 0}, {kv, d}, d, opt));
}

namespace {
// Copies rows [0, n) of src [B, n, d] into dst [B, capacity, d] at row `at`.
void append_rows(Tensor& dst, const Tensor& src, int64_t at) {
  const int64_t B = src.dim(0), n = src.dim(1), d = src.dim(2), cap = dst.dim(1);
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(dst.data() + (b * cap + at) * d, src.data() + b * n * d, n * d * sizeof(float));
}
// First `len` rows of each batch entry of t [B, capacity, d], as a contiguous tensor.
Tensor prefix_rows(const Tensor& t, int64_t len) {
  const int64_t B = t.dim(0), cap = t.dim(1), d = t.dim(2);
  if (len == cap) return t;
  if (B == 1) return t[0].slice(0, len).reshape({1, len, d});  // contiguous already: a view, no copy
  Tensor out = Tensor::empty({B, len, d});
  for (int64_t b = 0; b < B; ++b) std::memcpy(out.data() + b * len * d, t.data() + b * cap * d, len * d * sizeof(float));
  return out;
}
}  // namespace

Variable MultiHeadAttention::forward_cached(const Variable& x, KVCache& cache, int64_t capacity) {
  NoGradGuard no_grad;
  const int64_t B = x.dim(0), n = x.dim(1), d = x.dim(2);
  if (!cache.k.defined() || cache.k.dim(0) != B || cache.k.dim(1) < capacity) {
    TFM_CHECK(cache.length == 0, "KVCache: capacity change in the middle of decoding");
    cache.k = Tensor::empty({B, capacity, d});
    cache.v = Tensor::empty({B, capacity, d});
  }
  TFM_CHECK(cache.length + n <= cache.k.dim(1), "KVCache: ", cache.length, " + ", n, " positions exceed capacity ",
            cache.k.dim(1));
  append_rows(cache.k, k(x).data(), cache.length);
  append_rows(cache.v, v(x).data(), cache.length);
  const int64_t q_offset = cache.length;
  cache.length += n;
  // Batch entries are laid out with stride capacity: attend over a [B, length, d] view.
  Variable keys(prefix_rows(cache.k, cache.length)), values(prefix_rows(cache.v, cache.length));
  AttentionOptions opt;
  opt.n_head = n_head_;
  opt.causal = true;
  opt.window = window_;
  opt.q_offset = q_offset;
  return out(scaled_dot_product_attention(q(x), keys, values, opt));
}

Variable MultiHeadAttention::forward_cross_cached(const Variable& query, const Variable& memory, KVCache& cache,
                                                  const AttentionMask& mask) {
  NoGradGuard no_grad;
  if (cache.length == 0) {
    cache.k = k(memory).data();
    cache.v = v(memory).data();
    cache.length = memory.dim(1);
  }
  AttentionOptions opt;
  opt.n_head = n_head_;
  opt.key_padding = mask.key_padding;
  return out(scaled_dot_product_attention(q(query), Variable(cache.k), Variable(cache.v), opt));
}

}  // namespace tfm
