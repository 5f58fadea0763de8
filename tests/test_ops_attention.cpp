// autograd/ops/attention: scaled_dot_product_attention on [B, T, d] variables
// against an explicit per-head reference in double, its dense weights, and
// gradchecks w.r.t. q, k and v for every mask kind, local windows,
// cross-attention and dropout.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/attention.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// Explicit per-head attention in double on [B, T, d] tensors: scores
// q·k/√d_head, mask (the rule of core/kernels/attention.h), softmax, weighted sum.
// Returns the output [B, Tq, d]; weights (when not null) gets [B, H, Tq, Tk].
std::vector<double> reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                              std::vector<double>* weights = nullptr) {
  const int64_t B = q.dim(0), Tq = q.dim(1), Tk = k.dim(1), d = q.dim(2), H = o.n_head, dh = d / H;
  std::vector<double> out(B * Tq * d, 0.0);
  if (weights) weights->assign(B * H * Tq * Tk, 0.0);
  auto visible = [&](int64_t b, int64_t p, int64_t j) {
    if (o.key_padding.defined() && o.key_padding.data_i32()[b * Tk + j]) return false;
    if (o.causal && j > p) return false;
    if (o.window > 0 && o.causal && j <= p - o.window) return false;
    if (o.window > 0 && !o.causal && std::abs(p - j) >= o.window) return false;
    return true;
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t p = o.q_offset + i;
        std::vector<double> e(Tk, 0.0);
        double total = 0.0;
        for (int64_t j = 0; j < Tk; ++j) {
          if (!visible(b, p, j)) continue;
          double s = 0.0;
          for (int64_t c = 0; c < dh; ++c)
            s += double(q.at((b * Tq + i) * d + h * dh + c)) * k.at((b * Tk + j) * d + h * dh + c);
          e[j] = std::exp(s / std::sqrt(double(dh)));  // inputs are small: no overflow
          total += e[j];
        }
        if (total == 0.0) continue;
        for (int64_t j = 0; j < Tk; ++j) {
          const double w = e[j] / total;
          if (weights) (*weights)[((b * H + h) * Tq + i) * Tk + j] = w;
          for (int64_t c = 0; c < dh; ++c)
            out[(b * Tq + i) * d + h * dh + c] += w * v.at((b * Tk + j) * d + h * dh + c);
        }
      }
  return out;
}

Tensor padding(int64_t batch, int64_t len, const std::vector<std::pair<int64_t, int64_t>>& padded) {
  Tensor t = Tensor::zeros({batch, len}, DType::I32);
  for (auto [b, j] : padded) t.data_i32()[b * len + j] = 1;
  return t;
}

// Options built field by field (designated initialisers of a struct holding a
// Tensor draw -Wmissing-field-initializers).
AttentionOptions options(int64_t n_head, bool causal = false, int64_t window = 0, int64_t q_offset = 0,
                         Tensor key_padding = {}) {
  AttentionOptions o;
  o.n_head = n_head, o.causal = causal, o.window = window, o.q_offset = q_offset, o.key_padding = key_padding;
  return o;
}

AttentionOptions with_dropout(AttentionOptions o, float p, bool training, Generator* gen) {
  o.dropout = p, o.training = training, o.generator = gen;
  return o;
}

struct Case {
  const char* name;
  int64_t batch, q_len, kv_len;
  AttentionOptions options;
};

// d_model 12 with 3 heads throughout (head_dim 4).
std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"global", 2, 7, 7, options(3)});
  out.push_back({"causal", 2, 7, 7, options(3, true)});
  // Batch 1: last two keys padded; batch 2: every key padded (zero output).
  out.push_back({"key_padding", 3, 5, 5,
                 options(3, false, 0, 0, padding(3, 5, {{1, 3}, {1, 4}, {2, 0}, {2, 1}, {2, 2}, {2, 3}, {2, 4}}))});
  out.push_back({"causal_padding", 2, 5, 5, options(3, true, 0, 0, padding(2, 5, {{0, 0}, {1, 2}}))});
  out.push_back({"cross", 2, 4, 9, options(3, false, 0, 0, padding(2, 9, {{0, 8}, {1, 5}, {1, 6}}))});
  out.push_back({"local_causal", 2, 11, 11, options(3, true, 3)});
  out.push_back({"local", 2, 11, 11, options(3, false, 3)});
  out.push_back({"q_offset", 2, 3, 8, options(3, true, 0, 5)});
  out.push_back({"q_offset_local", 2, 2, 8, options(3, true, 3, 6)});
  return out;
}

TEST(AttentionOp, ForwardAndWeightsMatchReferenceForEveryMaskKind) {
  uint64_t seed = 100;
  for (Case c : cases()) {
    SCOPED_TRACE(c.name);
    Variable q(random_tensor({c.batch, c.q_len, 12}, seed++, -2.0f, 2.0f));
    Variable k(random_tensor({c.batch, c.kv_len, 12}, seed++, -2.0f, 2.0f));
    Variable v(random_tensor({c.batch, c.kv_len, 12}, seed++));
    Tensor weights;
    c.options.weights = &weights;
    Variable out = scaled_dot_product_attention(q, k, v, c.options);
    ASSERT_EQ(out.shape(), q.shape());
    ASSERT_EQ(weights.shape(), Shape({c.batch, 3, c.q_len, c.kv_len}));
    std::vector<double> ref_weights;
    const std::vector<double> ref = reference(q.data(), k.data(), v.data(), c.options, &ref_weights);
    for (int64_t i = 0; i < out.numel(); ++i) ASSERT_NEAR(out.data().at(i), ref[i], 2e-5) << "output " << i;
    for (int64_t i = 0; i < weights.numel(); ++i) ASSERT_NEAR(weights.at(i), ref_weights[i], 2e-6) << "weight " << i;
  }
}

TEST(AttentionOp, FullyPaddedBatchEntryGivesZeros) {
  const AttentionOptions o = options(3, false, 0, 0, padding(2, 4, {{1, 0}, {1, 1}, {1, 2}, {1, 3}}));
  Variable x(random_tensor({2, 4, 12}, 1));
  Variable out = scaled_dot_product_attention(x, x, x, o);
  for (int64_t i = 4 * 12; i < 2 * 4 * 12; ++i) EXPECT_EQ(out.data().at(i), 0.0f);
  for (int64_t i = 0; i < 4 * 12; ++i) EXPECT_NE(out.data().at(i), 0.0f);
}

TEST(AttentionOp, WindowCoveringTheSequenceEqualsGlobal) {
  Variable q(random_tensor({2, 9, 12}, 2)), k(random_tensor({2, 9, 12}, 3)), v(random_tensor({2, 9, 12}, 4));
  for (bool causal : {false, true}) {
    const Variable global = scaled_dot_product_attention(q, k, v, options(3, causal));
    for (int64_t window : {9, 50}) {
      const Variable local = scaled_dot_product_attention(q, k, v, options(3, causal, window));
      expect_close(local.data(), global.data(), 1e-6f);
    }
    // A window smaller than the sequence must differ (the check above is not vacuous).
    const Variable narrow = scaled_dot_product_attention(q, k, v, options(3, causal, 2));
    EXPECT_GT(std::fabs(narrow.data().at(8 * 12) - global.data().at(8 * 12)), 1e-4);
  }
}

TEST(AttentionOp, GradcheckForEveryMaskKind) {
  // Both backward paths: stored softmax weights, and weights recomputed per block.
  for (auto mode : {AttentionOptions::Recompute::Never, AttentionOptions::Recompute::Always}) {
    uint64_t seed = 200;
    for (Case c : cases()) {
      SCOPED_TRACE(std::string(c.name) + (mode == AttentionOptions::Recompute::Always ? " (recompute)" : " (stored)"));
      std::vector<Variable> in{random_param({c.batch, c.q_len, 12}, seed++, -2.0f, 2.0f),
                               random_param({c.batch, c.kv_len, 12}, seed++, -2.0f, 2.0f),
                               random_param({c.batch, c.kv_len, 12}, seed++)};
      AttentionOptions o = c.options;
      o.recompute = mode;
      EXPECT_GRADCHECK(
          [o](const std::vector<Variable>& v) { return scaled_dot_product_attention(v[0], v[1], v[2], o); }, in);
    }
  }
}

TEST(AttentionOp, SelfAttentionGradcheckThroughOneSharedInput) {
  // q = k = v = x: the three gradients accumulate into one.
  std::vector<Variable> in{random_param({2, 6, 12}, 300, -2.0f, 2.0f)};
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) {
        return scaled_dot_product_attention(v[0], v[0], v[0], options(3, true, 4));
      },
      in);
}

TEST(AttentionOp, DropoutGradcheckWithAFixedMask) {
  Generator gen(7, 3);
  std::vector<Variable> in{random_param({2, 6, 12}, 400, -2.0f, 2.0f), random_param({2, 6, 12}, 401, -2.0f, 2.0f),
                           random_param({2, 6, 12}, 402)};
  AttentionOptions::Recompute mode = AttentionOptions::Recompute::Never;
  auto f = [&gen, &mode](const std::vector<Variable>& v) {
    gen.set_state(7, 3);  // every evaluation draws the same mask
    AttentionOptions o = with_dropout(options(3, true), 0.4f, true, &gen);
    o.recompute = mode;
    return scaled_dot_product_attention(v[0], v[1], v[2], o);
  };
  EXPECT_GRADCHECK(f, in);
  mode = AttentionOptions::Recompute::Always;  // the recomputed weights see the same mask
  EXPECT_GRADCHECK(f, in);
  mode = AttentionOptions::Recompute::Never;
  // The mask is really applied: without dropout the output differs.
  const Variable dropped = f(in);
  const Variable plain = scaled_dot_product_attention(in[0], in[1], in[2], options(3, true));
  double diff = 0.0;
  for (int64_t i = 0; i < plain.numel(); ++i) diff += std::fabs(dropped.data().at(i) - plain.data().at(i));
  EXPECT_GT(diff, 1e-2);
}

TEST(AttentionOp, DropoutAdvancesTheGeneratorOnlyWhenTraining) {
  Variable x(random_tensor({2, 5, 12}, 500));
  Generator gen(11, 0);
  AttentionOptions o = with_dropout(options(3), 0.5f, false, &gen);
  const Variable eval = scaled_dot_product_attention(x, x, x, o);
  EXPECT_EQ(gen.offset(), 0u);
  expect_close(eval.data(), scaled_dot_product_attention(x, x, x, options(3)).data(), 0.0f);
  o.training = true;
  const Variable a = scaled_dot_product_attention(x, x, x, o);
  AttentionDims d;
  d.batch = 2, d.n_head = 3, d.q_len = d.kv_len = 5, d.dropout_p = 0.5f;
  EXPECT_EQ(gen.offset(), attention_dropout_blocks(d));
  const Variable b = scaled_dot_product_attention(x, x, x, o);  // next mask
  EXPECT_FALSE(std::equal(a.data().data(), a.data().data() + a.numel(), b.data().data()));
  gen.set_state(11, 0);
  expect_close(scaled_dot_product_attention(x, x, x, o).data(), a.data(), 0.0f);
}

// Dropout on the attention weights keeps the expected output: O = dropout(P)·V is linear in the masked weights
// and E[m/(1−p)] = 1, so the mean over M masks of the training output is the evaluation output, element by
// element within 5 standard errors (sample standard deviation / √M). V > 0 makes every output at least 1, so
// weights kept unscaled (bias −p·O) would miss by far more than the bound.
TEST(AttentionOp, DropoutOnTheWeightsKeepsTheExpectedOutput) {
  const Variable q(random_tensor({2, 6, 12}, 600)), k(random_tensor({2, 6, 12}, 601)),
      v(random_tensor({2, 6, 12}, 602, 1.0f, 2.0f));
  const float p = 0.3f;
  const Tensor expected = scaled_dot_product_attention(q, k, v, options(3, true)).data();
  Generator gen(13, 0);
  const int M = 2000;
  std::vector<double> sum(expected.numel(), 0.0), squares(expected.numel(), 0.0);
  for (int m = 0; m < M; ++m) {
    const Tensor o = scaled_dot_product_attention(q, k, v, with_dropout(options(3, true), p, true, &gen)).data();
    for (int64_t i = 0; i < o.numel(); ++i) sum[i] += o.at(i), squares[i] += static_cast<double>(o.at(i)) * o.at(i);
  }
  double worst_z = 0.0, smallest_bias_z = INFINITY;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double mean = sum[i] / M, sd = std::sqrt(std::max(0.0, squares[i] / M - mean * mean));
    const double standard_error = std::max(sd, 1e-6) / std::sqrt(static_cast<double>(M));
    worst_z = std::max(worst_z, std::fabs(mean - expected.at(i)) / standard_error);
    smallest_bias_z = std::min(smallest_bias_z, p * std::fabs(expected.at(i)) / standard_error);
  }
  EXPECT_LT(worst_z, 5.0);
  EXPECT_GT(smallest_bias_z, 10.0);  // the bound separates scaled from unscaled dropout for every element
}

TEST(AttentionOp, InvalidArgumentsNameTheProblem) {
  Variable x(random_tensor({2, 5, 12}, 1)), kv(random_tensor({2, 4, 12}, 2)), narrow(random_tensor({2, 4, 8}, 3));
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(x, x, x, options(5)); })
                .find("d_model 12 is not divisible by n_head 5"),
            std::string::npos);
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(x, kv, x, options(3)); }).find("differ"),
            std::string::npos);
  EXPECT_NE(error_message([&] { scaled_dot_product_attention(x, narrow, narrow, options(2)); }).find("d_model"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(x, kv, kv, options(3, false, 0, 0, padding(2, 5, {})));
            }).find("key_padding must be I32 [2, 4]"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              scaled_dot_product_attention(x, x, x, with_dropout(options(3), 0.1f, true, nullptr));
            }).find("needs a generator"),
            std::string::npos);
}

}  // namespace
}  // namespace tfm
