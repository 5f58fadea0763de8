// Grouped-query attention in autograd/ops/attention (AttentionOptions::n_kv_head):
// forward against an explicit per-head reference in double written from the rule
// "query head h reads K/V head h / (n_head / n_kv_head)", gradchecks for global,
// causal, local and offset masks (stored and recomputed weights), and, on a size
// that runs threaded, equality with multi-head attention over K/V heads repeated
// group-wise (the gradients of the repeats summed).
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

AttentionOptions gqa(int64_t n_head, int64_t n_kv_head, bool causal, int64_t window = 0, int64_t q_offset = 0) {
  AttentionOptions o;
  o.n_head = n_head, o.n_kv_head = n_kv_head, o.causal = causal, o.window = window, o.q_offset = q_offset;
  return o;
}

// q [B, Tq, H·dh], k and v [B, Tk, KVH·dh] → [B, Tq, H·dh].
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o) {
  const int64_t B = q.dim(0), Tq = q.dim(1), Tk = k.dim(1), H = o.n_head, KVH = o.n_kv_head;
  const int64_t dh = q.dim(2) / H, dq = q.dim(2), dkv = k.dim(2);
  std::vector<double> out(B * Tq * dq, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t kh = h / (H / KVH);
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t p = o.q_offset + i;
        std::vector<double> e(Tk, 0.0);
        double total = 0.0;
        for (int64_t j = 0; j < Tk; ++j) {
          if (o.causal && (j > p || (o.window > 0 && j <= p - o.window))) continue;
          double s = 0.0;
          for (int64_t c = 0; c < dh; ++c)
            s += double(q.at((b * Tq + i) * dq + h * dh + c)) * k.at((b * Tk + j) * dkv + kh * dh + c);
          e[j] = std::exp(s / std::sqrt(double(dh)));
          total += e[j];
        }
        for (int64_t j = 0; j < Tk; ++j)
          for (int64_t c = 0; c < dh; ++c)
            out[(b * Tq + i) * dq + h * dh + c] += e[j] / total * v.at((b * Tk + j) * dkv + kh * dh + c);
      }
    }
  return out;
}

struct Case {
  const char* name;
  int64_t q_len, kv_len;
  AttentionOptions options;
};
// 6 query heads of 3 columns (odd head size), 1, 2 or 3 key/value heads.
std::vector<Case> cases() {
  return {{"global, 2 kv heads", 7, 7, gqa(6, 2, false)},
          {"causal, 3 kv heads", 7, 7, gqa(6, 3, true)},
          {"causal, 1 kv head (multi-query)", 5, 5, gqa(6, 1, true)},
          {"local window 3, 2 kv heads", 9, 9, gqa(6, 2, true, 3)},
          {"decoding offset 4, 3 kv heads", 3, 7, gqa(6, 3, true, 0, 4)}};
}

TEST(GroupedQueryAttention, ForwardMatchesReference) {
  uint64_t seed = 10;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    const int64_t dkv = 3 * c.options.n_kv_head;
    Variable q(random_tensor({2, c.q_len, 18}, seed++, -2.0f, 2.0f));
    Variable k(random_tensor({2, c.kv_len, dkv}, seed++, -2.0f, 2.0f)), v(random_tensor({2, c.kv_len, dkv}, seed++));
    const Variable out = scaled_dot_product_attention(q, k, v, c.options);
    ASSERT_EQ(out.shape(), q.shape());
    const std::vector<double> ref = reference(q.data(), k.data(), v.data(), c.options);
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_NEAR(out.data().at(i), ref[i], 2e-5) << i;
  }
}

TEST(GroupedQueryAttention, GradcheckStoredAndRecomputed) {
  for (auto mode : {AttentionOptions::Recompute::Never, AttentionOptions::Recompute::Always}) {
    uint64_t seed = 40;
    for (const Case& c : cases()) {
      SCOPED_TRACE(c.name);
      const int64_t dkv = 3 * c.options.n_kv_head;
      std::vector<Variable> in{random_param({2, c.q_len, 18}, seed++, -2.0f, 2.0f),
                               random_param({2, c.kv_len, dkv}, seed++, -2.0f, 2.0f),
                               random_param({2, c.kv_len, dkv}, seed++)};
      AttentionOptions o = c.options;
      o.recompute = mode;
      EXPECT_GRADCHECK(
          [o](const std::vector<Variable>& v) { return scaled_dot_product_attention(v[0], v[1], v[2], o); }, in);
    }
  }
}

// k [B, T, KVH·dh] → [B, T, H·dh], K/V head kh copied to query heads kh·g … kh·g + g − 1.
Tensor repeat_heads(const Tensor& k, int64_t H, int64_t KVH, int64_t dh) {
  const int64_t rows = k.dim(0) * k.dim(1), g = H / KVH;
  Tensor out = Tensor::empty({k.dim(0), k.dim(1), H * dh});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c = 0; c < dh; ++c) out.data()[(r * H + h) * dh + c] = k.at((r * KVH + h / g) * dh + c);
  return out;
}

TEST(GroupedQueryAttention, EqualsMultiHeadOverRepeatedHeadsOnAThreadedSize) {
  const int64_t B = 3, T = 70, H = 8, KVH = 2, dh = 8;  // above the kernels' parallel threshold
  Variable q = random_param({B, T, H * dh}, 70), k = random_param({B, T, KVH * dh}, 71);
  Variable v = random_param({B, T, KVH * dh}, 72);
  Variable kr(repeat_heads(k.data(), H, KVH, dh), true), vr(repeat_heads(v.data(), H, KVH, dh), true);
  Variable q2(q.data().copy(), true);
  const Tensor w = random_tensor({B, T, H * dh}, 73);
  const Variable a = scaled_dot_product_attention(q, k, v, gqa(H, KVH, true, 20));
  const Variable b = scaled_dot_product_attention(q2, kr, vr, gqa(H, H, true, 20));
  expect_close(a.data(), b.data(), 1e-5f);
  sum(a * Variable(w)).backward();
  sum(b * Variable(w)).backward();
  expect_close(q.grad(), q2.grad(), 1e-5f);
  // The repeats' gradients summed per group are the K/V heads' gradients.
  for (const auto& [small, big] : {std::pair{&k, &kr}, std::pair{&v, &vr}}) {
    Tensor summed = Tensor::zeros(small->shape());
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t c = 0; c < dh; ++c)
          summed.data()[(r * KVH + h / (H / KVH)) * dh + c] += big->grad().at((r * H + h) * dh + c);
    expect_close(small->grad(), summed, 1e-4f);
  }
}

TEST(GroupedQueryAttention, KvHeadsThatDoNotDivideTheHeadsAreAnError) {
  Variable q = random_param({1, 2, 12}, 80), k = random_param({1, 2, 8}, 81);
  EXPECT_CONTAINS(error_message([&] { scaled_dot_product_attention(q, k, k, gqa(3, 2, true)); }),
                  "n_kv_head = 2 does not divide n_head = 3");
}

}  // namespace
}  // namespace tfm
