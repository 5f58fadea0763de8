#include "layers/attention.h"

#include <cstring>

namespace tfm {

namespace {
int64_t kv_heads_of(int64_t n_head, const AttentionLayout& layout) {
  return layout.n_kv_head > 0 ? layout.n_kv_head : n_head;
}
int64_t kv_width_of(int64_t d_model, int64_t n_head, const AttentionLayout& layout) {
  TFM_CHECK(n_head > 0 && d_model % n_head == 0, "MultiHeadAttention: d_model ", d_model,
            " is not divisible by n_head ", n_head);
  TFM_CHECK(layout.n_kv_head >= 0 && n_head % kv_heads_of(n_head, layout) == 0, "MultiHeadAttention: n_kv_head = ",
            layout.n_kv_head, " does not divide n_head = ", n_head);
  return d_model / n_head * kv_heads_of(n_head, layout);
}
}  // namespace

MultiHeadAttention::MultiHeadAttention(int64_t d_model, int64_t n_head, float dropout, int64_t window,
                                       const AttentionLayout& layout)
    : q(d_model, d_model, layout.bias), k(d_model, kv_width_of(d_model, n_head, layout), layout.bias),
      v(d_model, kv_width_of(d_model, n_head, layout), layout.bias), out(d_model, d_model, layout.bias),
      n_head_(n_head), n_kv_head_(kv_heads_of(n_head, layout)), dropout_(dropout), window_(window) {
  TFM_CHECK(dropout >= 0.0f && dropout < 1.0f, "MultiHeadAttention: dropout must be in [0, 1), found ", dropout);
  TFM_CHECK(window >= 0, "MultiHeadAttention: window must be >= 0, found ", window);
  if (layout.rope_theta > 0.0)
    rope_ = std::make_unique<RotaryEmbedding>(d_model / n_head, layout.rope_theta, layout.rope_positions);
  out.set_parameter_role("weight", ParamRole::ResidualWeight);  // its output joins the residual stream
  register_module("q", q);
  register_module("k", k);
  register_module("v", v);
  register_module("out", out);
  // Lay q, k and v back to back (values and gradients) so that linear_concat
  // computes the three projections, and their gradients, as single GEMMs.
  const int64_t kv = k.out_features(), rows[3] = {0, d_model, d_model + kv}, total = d_model + 2 * kv;
  Tensor w = Tensor::empty({total, d_model}), b = Tensor::empty({total});
  Tensor gw = Tensor::zeros({total, d_model}), gb = Tensor::zeros({total});
  Linear* parts[3] = {&q, &k, &v};
  for (int i = 0; i < 3; ++i) {
    const int64_t r0 = rows[i], r1 = r0 + parts[i]->out_features();
    Tensor wi = w.slice(r0, r1);
    wi.copy_from(parts[i]->weight.data());
    parts[i]->weight.mutable_data() = wi;
    parts[i]->weight.impl()->grad = gw.slice(r0, r1);
    if (!layout.bias) continue;
    Tensor bi = b.slice(r0, r1);
    bi.copy_from(parts[i]->bias.data());
    parts[i]->bias.mutable_data() = bi;
    parts[i]->bias.impl()->grad = gb.slice(r0, r1);
  }
}

MultiHeadAttention::MultiHeadAttention(const AttentionContext& ctx, const nlohmann::json& options)
    : MultiHeadAttention(ctx.d_model, ctx.n_head, ctx.dropout, ctx.window, ctx.layout) {
  TFM_CHECK(options.is_null() || options.empty(), "attention \"multi_head\" takes no options (its keys are the ",
            "model's: n_head, n_kv_head, attention_window, pos_emb), found ", options.dump());
}

AttentionTable& attention_registry() {
  static AttentionTable table("attention");
  return table;
}

std::unique_ptr<AttentionLayer> make_attention(const LayerSlot& slot, const AttentionContext& context) {
  return attention_registry().create(slot.type, context, slot.options);
}

TFM_REGISTER_ATTENTION("multi_head", MultiHeadAttention,
                       "scaled dot-product multi-head attention (Vaswani et al. 2017, section 3.2), grouped-query "
                       "heads, rotary positions and local windows as the model's keys set them; no options");

AttentionOptions MultiHeadAttention::options(bool causal) const {
  AttentionOptions opt;
  opt.n_head = n_head_;
  opt.n_kv_head = n_kv_head_;
  opt.causal = causal;
  opt.window = window_;
  return opt;
}

Variable MultiHeadAttention::forward(const Variable& query, const Variable& memory, const AttentionMask& mask,
                                     Tensor* weights) {
  AttentionOptions opt = options(mask.causal);
  opt.key_padding = mask.key_padding;
  opt.dropout = dropout_;
  opt.training = training();
  opt.generator = &default_generator();
  opt.weights = weights;
  opt.bf16_output = true;  // under bf16 GEMMs: straight to the output projection's operand
  const int64_t d = q.out_features(), kv = k.out_features();
  if (query.impl() == memory.impl()) {  // self-attention: one [B, T, d + 2·kv] projection
    Variable qkv = linear_concat(query, {q.weight, k.weight, v.weight}, {q.bias, k.bias, v.bias});
    if (rope_) qkv = rope_->apply(qkv, n_head_ + n_kv_head_);  // q's heads, then k's
    return out(scaled_dot_product_attention({qkv, 0}, {qkv, d}, {qkv, d + kv}, d, opt));
  }
  Variable kvs = linear_concat(memory, {k.weight, v.weight}, {k.bias, v.bias});
  Variable qs = q(query);
  if (rope_) {
    qs = rope_->apply(qs, n_head_);
    kvs = rope_->apply(kvs, n_kv_head_);
  }
  return out(scaled_dot_product_attention({qs, 0}, {kvs, 0}, {kvs, kv}, d, opt));
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
  const int64_t B = x.dim(0), n = x.dim(1), d = k.out_features();
  if (!cache.k.defined() || cache.k.dim(0) != B || cache.k.dim(1) < capacity || cache.k.dim(2) != d) {
    TFM_CHECK(cache.length == 0, "KVCache: capacity change in the middle of decoding");
    cache.k = Tensor::empty({B, capacity, d});
    cache.v = Tensor::empty({B, capacity, d});
  }
  TFM_CHECK(cache.length + n <= cache.k.dim(1), "KVCache: ", cache.length, " + ", n, " positions exceed capacity ",
            cache.k.dim(1));
  const int64_t q_offset = cache.length;  // the new rows' first absolute position
  Variable keys = k(x), queries = q(x);
  if (rope_) {
    keys = rope_->apply(keys, n_kv_head_, q_offset);
    queries = rope_->apply(queries, n_head_, q_offset);
  }
  append_rows(cache.k, keys.data(), cache.length);
  append_rows(cache.v, v(x).data(), cache.length);
  cache.length += n;
  // Batch entries are laid out with stride capacity: attend over a [B, length, d] view.
  Variable cached_keys(prefix_rows(cache.k, cache.length)), values(prefix_rows(cache.v, cache.length));
  AttentionOptions opt = options(/*causal=*/true);
  opt.q_offset = q_offset;
  return out(scaled_dot_product_attention(queries, cached_keys, values, opt));
}

Variable MultiHeadAttention::forward_cross_cached(const Variable& query, const Variable& memory, KVCache& cache,
                                                  const AttentionMask& mask) {
  NoGradGuard no_grad;
  TFM_CHECK(!rope_, "MultiHeadAttention: cross-attention with rotary embeddings is not supported");
  if (cache.length == 0) {
    cache.k = k(memory).data();
    cache.v = v(memory).data();
    cache.length = memory.dim(1);
  }
  AttentionOptions opt = options(/*causal=*/false);
  opt.window = 0;
  opt.key_padding = mask.key_padding;
  return out(scaled_dot_product_attention(q(query), Variable(cache.k), Variable(cache.v), opt));
}

}  // namespace tfm
