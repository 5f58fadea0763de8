// layers/attention with the LM's modern-block layout (AttentionLayout): grouped-
// query heads, rotary position embeddings on q and k, no biases. Forward against
// a double reference written from the documented formulas (rotate halves, query
// head h reads K/V head h / (n_head / n_kv_head)), gradchecks over inputs and
// parameters, and the key/value cache (n_kv_head heads, absolute positions) against
// the full forward.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

AttentionLayout layout(int64_t n_kv_head, bool bias, double rope_theta) {
  AttentionLayout l;
  l.n_kv_head = n_kv_head, l.bias = bias, l.rope_theta = rope_theta, l.rope_positions = 4;  // table grows on demand
  return l;
}

std::vector<double> project(const Tensor& x, const Linear& fc) {
  const int64_t d_in = fc.in_features(), d_out = fc.out_features(), rows = x.numel() / d_in;
  std::vector<double> y(rows * d_out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < d_out; ++o) {
      double a = fc.bias.defined() ? fc.bias.data().at(o) : 0.0;
      for (int64_t i = 0; i < d_in; ++i) a += double(x.at(r * d_in + i)) * fc.weight.data().at(o * d_in + i);
      y[r * d_out + o] = a;
    }
  return y;
}

// Rotates every head (dh columns) of rows [B·T, width] in place: row t at position t,
// pairs (i, i + dh/2) by t·θ^(−2i/dh).
void rotate(std::vector<double>& y, int64_t T, int64_t width, int64_t dh, double theta) {
  for (size_t r = 0; r < y.size() / width; ++r)
    for (int64_t h = 0; h < width / dh; ++h)
      for (int64_t i = 0; i < dh / 2; ++i) {
        const double angle = double(r % T) * std::pow(theta, -2.0 * i / dh);
        double& a = y[r * width + h * dh + i];
        double& b = y[r * width + h * dh + i + dh / 2];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(angle) - b0 * std::sin(angle);
        b = b0 * std::cos(angle) + a0 * std::sin(angle);
      }
}

// Causal self-attention with window w (0: global) of x [B, T, d].
std::vector<double> reference(const MultiHeadAttention& mha, const Tensor& x, double theta) {
  const int64_t B = x.dim(0), T = x.dim(1), d = x.dim(2), H = mha.n_head(), KVH = mha.n_kv_head();
  const int64_t dh = d / H, dkv = KVH * dh, w = mha.window();
  std::vector<double> q = project(x, mha.q), k = project(x, mha.k), v = project(x, mha.v);
  if (theta > 0) {
    rotate(q, T, d, dh, theta);
    rotate(k, T, dkv, dh, theta);
  }
  std::vector<double> heads(B * T * d, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        const int64_t kh = h / (H / KVH);
        std::vector<double> e(T, 0.0);
        double total = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          if (w > 0 && j <= i - w) continue;
          double s = 0.0;
          for (int64_t c = 0; c < dh; ++c) s += q[(b * T + i) * d + h * dh + c] * k[(b * T + j) * dkv + kh * dh + c];
          total += e[j] = std::exp(s / std::sqrt(double(dh)));
        }
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t c = 0; c < dh; ++c)
            heads[(b * T + i) * d + h * dh + c] += e[j] / total * v[(b * T + j) * dkv + kh * dh + c];
      }
  std::vector<double> out(B * T * d);
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t o = 0; o < d; ++o) {
      double a = mha.out.bias.defined() ? mha.out.bias.data().at(o) : 0.0;
      for (int64_t i = 0; i < d; ++i) a += heads[r * d + i] * mha.out.weight.data().at(o * d + i);
      out[r * d + o] = a;
    }
  return out;
}

AttentionMask causal() {
  AttentionMask m;
  m.causal = true;
  return m;
}

struct Variant {
  const char* name;
  int64_t n_kv_head, window;
  bool bias;
  double theta;
};
// d_model 24, 6 heads of 4.
const std::vector<Variant> kVariants{{"gqa 2, rope", 2, 0, true, 10000.0},
                                     {"gqa 3, rope theta 50, no bias, window 3", 3, 3, false, 50.0},
                                     {"multi-query, no rope", 1, 0, true, 0.0},
                                     {"mha, rope, no bias", 6, 0, false, 10000.0}};

TEST(AttentionBlocks, ForwardMatchesReference) {
  for (const Variant& c : kVariants) {
    SCOPED_TRACE(c.name);
    MultiHeadAttention mha(24, 6, 0.0f, c.window, layout(c.n_kv_head, c.bias, c.theta));
    EXPECT_EQ(mha.k.out_features(), 4 * c.n_kv_head);
    EXPECT_EQ(mha.q.bias.defined(), c.bias);
    EXPECT_EQ(mha.out.bias.defined(), c.bias);
    Variable x(random_tensor({2, 11, 24}, 1, -2.0f, 2.0f));
    const Tensor y = mha(x, causal()).data();
    const std::vector<double> ref = reference(mha, x.data(), c.theta);
    for (int64_t i = 0; i < y.numel(); ++i) ASSERT_NEAR(y.at(i), ref[i], 2e-5) << i;
  }
}

TEST(AttentionBlocks, GradcheckOverInputAndParameters) {
  for (const Variant& c : kVariants) {
    SCOPED_TRACE(c.name);
    MultiHeadAttention mha(12, 6, 0.0f, c.window, layout(c.n_kv_head, c.bias, c.theta));
    std::vector<Variable> in{random_param({2, 5, 12}, 2, -1.0f, 1.0f)};
    for (auto& [name, p] : mha.named_parameters()) in.push_back(*p);
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return mha(v[0], causal()); }, in);
  }
}

TEST(AttentionBlocks, CachedDecodingEqualsFullForwardAtAbsolutePositions) {
  for (const Variant& c : kVariants) {
    SCOPED_TRACE(c.name);
    MultiHeadAttention mha(24, 6, 0.0f, c.window, layout(c.n_kv_head, c.bias, c.theta));
    Variable x(random_tensor({2, 9, 24}, 3, -2.0f, 2.0f));
    const Tensor full = mha(x, causal()).data();
    // A prompt of 4 positions, then one position at a time.
    KVCache cache;
    Tensor prompt = Tensor::empty({2, 4, 24});
    for (int64_t b = 0; b < 2; ++b) std::copy_n(x.data().data() + b * 9 * 24, 4 * 24, prompt.data() + b * 4 * 24);
    const Tensor y0 = mha.forward_cached(Variable(prompt), cache, 9).data();
    EXPECT_EQ(cache.k.shape(), Shape({2, 9, 4 * c.n_kv_head}));  // n_kv_head heads are cached
    for (int64_t b = 0; b < 2; ++b) expect_close(y0.data() + b * 4 * 24, full.data() + b * 9 * 24, 4 * 24, 1e-5f);
    for (int64_t t = 4; t < 9; ++t) {
      Tensor xt = Tensor::empty({2, 1, 24});
      for (int64_t b = 0; b < 2; ++b) std::copy_n(x.data().data() + (b * 9 + t) * 24, 24, xt.data() + b * 24);
      const Tensor yt = mha.forward_cached(Variable(xt), cache, 9).data();
      for (int64_t b = 0; b < 2; ++b) expect_close(yt.data() + b * 24, full.data() + (b * 9 + t) * 24, 24, 1e-5f);
    }
  }
}

TEST(AttentionBlocks, InvalidLayoutsNameTheValues) {
  EXPECT_CONTAINS(error_message([] { MultiHeadAttention(24, 6, 0.0f, 0, layout(4, true, 0.0)); }),
                  "n_kv_head = 4 does not divide n_head = 6");
  EXPECT_CONTAINS(error_message([] { MultiHeadAttention(18, 6, 0.0f, 0, layout(6, true, 10000.0)); }),
                  "head size (d_model/n_head) must be even, found 3");
  MultiHeadAttention mha(12, 2, 0.0f, 0, layout(2, true, 10000.0));
  Variable q(random_tensor({1, 2, 12}, 4));
  KVCache cache;
  EXPECT_CONTAINS(error_message([&] { mha.forward_cross_cached(q, q, cache); }), "rotary embeddings");
}

}  // namespace
}  // namespace tfm
