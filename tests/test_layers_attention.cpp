// layers/attention: MultiHeadAttention against an explicit double reference
// (projections, per-head softmax, out projection), gradchecks w.r.t. inputs
// and every parameter for self, cross, causal and windowed attention, and the
// key/value caches of incremental decoding against the full forward.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

AttentionMask mask(bool causal, Tensor key_padding = {}) {
  AttentionMask m;
  m.causal = causal;
  m.key_padding = key_padding;
  return m;
}

// y = x·Wᵀ + b in double, x [rows, d].
std::vector<double> project(const Tensor& x, const Linear& fc) {
  const int64_t d_in = fc.in_features(), d_out = fc.out_features(), rows = x.numel() / d_in;
  std::vector<double> y(rows * d_out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < d_out; ++o) {
      double a = fc.bias.data().at(o);
      for (int64_t i = 0; i < d_in; ++i) a += double(x.at(r * d_in + i)) * fc.weight.data().at(o * d_in + i);
      y[r * d_out + o] = a;
    }
  return y;
}

// Vaswani et al. 2017, section 3.2.2, written out: per head softmax(q kᵀ/√d_head + mask) v, then `out`.
std::vector<double> reference(const MultiHeadAttention& mha, const Tensor& query, const Tensor& memory,
                              const AttentionMask& m) {
  const int64_t B = query.dim(0), Tq = query.dim(1), Tk = memory.dim(1), d = query.dim(2);
  const int64_t H = mha.n_head(), dh = d / H, w = mha.window();
  const std::vector<double> q = project(query, mha.q), k = project(memory, mha.k), v = project(memory, mha.v);
  std::vector<double> heads(B * Tq * d, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        std::vector<double> e(Tk, 0.0);
        double total = 0.0;
        for (int64_t j = 0; j < Tk; ++j) {
          if (m.key_padding.defined() && m.key_padding.data_i32()[b * Tk + j]) continue;
          if (m.causal && (j > i || (w > 0 && j <= i - w))) continue;
          if (!m.causal && w > 0 && std::abs(i - j) >= w) continue;
          double s = 0.0;
          for (int64_t c = 0; c < dh; ++c) s += q[(b * Tq + i) * d + h * dh + c] * k[(b * Tk + j) * d + h * dh + c];
          total += e[j] = std::exp(s / std::sqrt(double(dh)));
        }
        for (int64_t j = 0; j < Tk && total > 0; ++j)
          for (int64_t c = 0; c < dh; ++c)
            heads[(b * Tq + i) * d + h * dh + c] += e[j] / total * v[(b * Tk + j) * d + h * dh + c];
      }
  std::vector<double> out(B * Tq * d);
  for (int64_t r = 0; r < B * Tq; ++r)
    for (int64_t o = 0; o < d; ++o) {
      double a = mha.out.bias.data().at(o);
      for (int64_t i = 0; i < d; ++i) a += heads[r * d + i] * mha.out.weight.data().at(o * d + i);
      out[r * d + o] = a;
    }
  return out;
}

Tensor padding(int64_t batch, int64_t len, const std::vector<std::pair<int64_t, int64_t>>& padded) {
  Tensor t = Tensor::zeros({batch, len}, DType::I32);
  for (auto [b, j] : padded) t.data_i32()[b * len + j] = 1;
  return t;
}

std::vector<Variable> inputs_with_parameters(std::vector<Variable> in, const Module& m) {
  for (auto& [name, p] : m.named_parameters()) in.push_back(*p);
  return in;
}

TEST(MultiHeadAttentionLayer, ForwardMatchesExplicitReference) {
  struct Case {
    const char* name;
    int64_t window, q_len, kv_len;
    AttentionMask m;
  };
  const std::vector<Case> cases{{"self", 0, 7, 7, mask(false)},
                                {"causal", 0, 7, 7, mask(true)},
                                {"cross_padding", 0, 5, 6, mask(false, padding(2, 6, {{0, 5}, {1, 1}, {1, 2}}))},
                                {"local_causal", 3, 9, 9, mask(true)},
                                {"local", 2, 9, 9, mask(false)}};
  uint64_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    MultiHeadAttention mha(12, 3, 0.0f, c.window);
    Variable query(random_tensor({2, c.q_len, 12}, seed++)), memory(random_tensor({2, c.kv_len, 12}, seed++));
    if (c.q_len == c.kv_len) memory = query;
    Tensor weights;
    const Tensor y = mha.forward(query, memory, c.m, &weights).data();
    const std::vector<double> ref = reference(mha, query.data(), memory.data(), c.m);
    for (int64_t i = 0; i < y.numel(); ++i) ASSERT_NEAR(y.at(i), ref[i], 1e-5) << "element " << i;
    ASSERT_EQ(weights.shape(), Shape({2, 3, c.q_len, c.kv_len}));
    for (int64_t row = 0; row < 2 * 3 * c.q_len; ++row) {
      double total = 0.0;
      for (int64_t j = 0; j < c.kv_len; ++j) total += weights.at(row * c.kv_len + j);
      ASSERT_NEAR(total, 1.0, 1e-5) << "weights row " << row;
    }
  }
}

TEST(MultiHeadAttentionLayer, SelfAttentionGradcheckOverInputAndParameters) {
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "global");
    MultiHeadAttention mha(12, 3);
    const AttentionMask m = mask(causal);
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return mha.forward(v[0], v[0], m); },
                     inputs_with_parameters({random_param({2, 5, 12}, 10, -2.0f, 2.0f)}, mha));
  }
}

TEST(MultiHeadAttentionLayer, CrossAttentionWithPaddingGradcheck) {
  MultiHeadAttention mha(12, 3);
  const AttentionMask m = mask(false, padding(2, 6, {{0, 5}, {1, 0}, {1, 4}, {1, 5}}));
  EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return mha.forward(v[0], v[1], m); },
                   inputs_with_parameters(
                       {random_param({2, 4, 12}, 11, -2.0f, 2.0f), random_param({2, 6, 12}, 12, -2.0f, 2.0f)}, mha));
}

TEST(MultiHeadAttentionLayer, WindowedAttentionGradcheck) {
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "non-causal");
    MultiHeadAttention mha(12, 3, 0.0f, /*window=*/2);
    const AttentionMask m = mask(causal);
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return mha.forward(v[0], v[0], m); },
                     inputs_with_parameters({random_param({2, 7, 12}, 13, -2.0f, 2.0f)}, mha));
  }
}

TEST(MultiHeadAttentionLayer, CachedDecodingEqualsFullCausalForward) {
  for (int64_t window : {0, 3}) {
    SCOPED_TRACE(::testing::Message() << "window " << window);
    MultiHeadAttention mha(12, 3, 0.0f, window);
    Variable x(random_tensor({2, 9, 12}, 20, -2.0f, 2.0f));
    const Tensor full = mha(x, mask(true)).data();
    // One position at a time.
    KVCache cache;
    for (int64_t t = 0; t < 9; ++t) {
      Tensor xt = Tensor::empty({2, 1, 12});
      for (int64_t b = 0; b < 2; ++b)
        std::copy_n(x.data().data() + (b * 9 + t) * 12, 12, xt.data() + b * 12);
      const Tensor yt = mha.forward_cached(Variable(xt), cache, /*capacity=*/16).data();
      EXPECT_EQ(cache.length, t + 1);
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t c = 0; c < 12; ++c)
          ASSERT_NEAR(yt.at(b * 12 + c), full.at((b * 9 + t) * 12 + c), 1e-5) << "position " << t;
    }
    // A prompt of 5 positions, then the remaining 4 at once.
    KVCache chunked;
    Tensor first = Tensor::empty({2, 5, 12}), rest = Tensor::empty({2, 4, 12});
    for (int64_t b = 0; b < 2; ++b) {
      std::copy_n(x.data().data() + b * 9 * 12, 5 * 12, first.data() + b * 5 * 12);
      std::copy_n(x.data().data() + (b * 9 + 5) * 12, 4 * 12, rest.data() + b * 4 * 12);
    }
    const Tensor y1 = mha.forward_cached(Variable(first), chunked, 9).data();
    const Tensor y2 = mha.forward_cached(Variable(rest), chunked, 9).data();
    for (int64_t b = 0; b < 2; ++b) {
      expect_close(y1.data() + b * 5 * 12, full.data() + b * 9 * 12, 5 * 12, 1e-5f);
      expect_close(y2.data() + b * 4 * 12, full.data() + (b * 9 + 5) * 12, 4 * 12, 1e-5f);
    }
    EXPECT_THROW(mha.forward_cached(Variable(first), chunked, 9), Error);  // 9 + 5 > capacity
  }
}

TEST(MultiHeadAttentionLayer, CrossCacheEqualsFullCrossAttentionAndProjectsMemoryOnce) {
  MultiHeadAttention mha(12, 3);
  Variable memory(random_tensor({2, 6, 12}, 30)), query(random_tensor({2, 4, 12}, 31));
  const AttentionMask m = mask(false, padding(2, 6, {{1, 4}, {1, 5}}));
  const Tensor full = mha.forward(query, memory, m).data();
  KVCache cache;
  const Tensor cached = mha.forward_cross_cached(query, memory, cache, m).data();
  expect_close(cached, full, 1e-6f);
  EXPECT_EQ(cache.length, 6);
  // The second call reuses the cached projections: a different memory is ignored.
  Variable other(random_tensor({2, 6, 12}, 32));
  expect_close(mha.forward_cross_cached(query, other, cache, m).data(), full, 1e-6f);
}

TEST(MultiHeadAttentionLayer, DropoutOnlyInTrainingAndReproducible) {
  MultiHeadAttention mha(12, 3, /*dropout=*/0.3f);
  Variable x(random_tensor({2, 5, 12}, 40));
  mha.eval();
  const Tensor eval = mha(x).data();
  expect_close(mha(x).data(), eval, 0.0f);
  mha.train();
  default_generator().set_state(5, 0);
  const Tensor a = mha(x).data();
  default_generator().set_state(5, 0);
  expect_close(mha(x).data(), a, 0.0f);
  double diff = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) diff += std::fabs(a.at(i) - eval.at(i));
  EXPECT_GT(diff, 1e-3);
}

TEST(MultiHeadAttentionLayer, ConstructorValidatesItsArguments) {
  try {
    MultiHeadAttention bad(10, 3);
    ADD_FAILURE() << "accepted d_model 10 with 3 heads";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d_model 10 is not divisible by n_head 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(MultiHeadAttention(12, 3, 1.0f), Error);
  EXPECT_THROW(MultiHeadAttention(12, 3, 0.0f, -1), Error);
}

}  // namespace
}  // namespace tfm
