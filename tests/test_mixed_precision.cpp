// core/precision and the bf16 paths of the GEMM ops (linear, linear_concat and the
// attention kernel) under Precision::BF16, against loops in double.
//
// Linear layers: the references take the bf16-rounded operands, so the only error
// left is fp32 accumulation; the tolerance 2⁻¹⁶·Σ|a·b| is 256 times tighter than a
// bf16 accumulator or an unrounded operand would need (about 2⁻⁸), so a path that
// skipped the rounding, rounded the wrong operand or accumulated in bf16 fails.
// The backward rounds the output gradient to bf16 too; the bias gradient sums it in fp32.
//
// Attention rounds Q, K, V, the softmax weights and their gradient: its references
// are the fp32 definitions, with the tolerance bf16 rounding implies (stated per test).
#include <cmath>
#include <vector>

#include "autograd/ops/activation.h"
#include "autograd/ops/linear.h"
#include "core/kernels/activation.h"
#include "layers/feed_forward.h"
#include "models/model.h"
#include "core/kernels/attention.h"
#include "core/kernels/matmul.h"
#include "core/precision.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

#define SKIP_WITHOUT_AVX512() \
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "oneDNN has no bf16 matmul on a CPU without AVX-512"

double r16(float x) { return from_bf16(to_bf16(x)); }

struct Acc {
  double value = 0.0, abs_sum = 0.0;
  void add(double a, double b) {
    value += a * b;
    abs_sum += std::fabs(a * b);
  }
};
constexpr double kAccumTol = 1.0 / 65536;  // 2⁻¹⁶

void expect_acc(float got, const Acc& want, const char* what, int64_t i) {
  ASSERT_NEAR(got, want.value, kAccumTol * want.abs_sum + 1e-30) << what << " element " << i;
}

TEST(Precision, DefaultsToFp32AndScopesNestAndRestore) {
  EXPECT_EQ(compute_precision(), Precision::F32);
  {
    PrecisionScope outer(Precision::BF16);
    EXPECT_TRUE(bf16_compute());
    {
      PrecisionScope inner(Precision::F32);
      EXPECT_FALSE(bf16_compute());
    }
    EXPECT_TRUE(bf16_compute());
  }
  EXPECT_EQ(compute_precision(), Precision::F32);
  EXPECT_STREQ(precision_name(Precision::BF16), "bf16");
  EXPECT_STREQ(precision_name(Precision::F32), "fp32");
}

TEST(Bf16WeightCache, ConvertsEachWeightOnceAndRoundsToNearestEven) {
  Tensor w = random_tensor({5, 7}, 1);
  Bf16WeightCache cache;
  Tensor a = bf16_weight(w.data(), w.shape());
  Tensor b = bf16_weight(w.data(), w.shape());
  EXPECT_EQ(cache.conversions(), 1);
  EXPECT_TRUE(a.shares_storage(b));
  ASSERT_EQ(a.dtype(), DType::BF16);
  const bf16_t* h = static_cast<const bf16_t*>(a.raw_data());
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(h[i], to_bf16(w.at(i))) << i;
  // The first rows of the same buffer are another weight (a fused projection's part).
  Tensor part = bf16_weight(w.data(), {2, 7});
  EXPECT_EQ(cache.conversions(), 2);
  EXPECT_EQ(part.numel(), 14);
}

TEST(Bf16WeightCache, WithoutACacheEveryCallConvertsAFreshCopy) {
  Tensor w = random_tensor({3, 4}, 2);
  Tensor a = bf16_weight(w.data(), w.shape());
  w.data()[0] = 1000.0f;  // no cache: the next call sees the new value
  Tensor b = bf16_weight(w.data(), w.shape());
  EXPECT_FALSE(a.shares_storage(b));
  EXPECT_EQ(static_cast<const bf16_t*>(b.raw_data())[0], to_bf16(1000.0f));
}

// out = bf16(x)·bf16(W)ᵀ + b; dx = bf16(G)·bf16(W); dW = bf16(G)ᵀ·bf16(x); db = Σ_rows G.
void check_linear_bf16(int64_t rows, int64_t n_in, int64_t n_out, bool with_bias) {
  SCOPED_TRACE(::testing::Message() << rows << "x" << n_in << " -> " << n_out << (with_bias ? " bias" : ""));
  Variable x = random_param({rows, n_in}, 10, -2, 2), w = random_param({n_out, n_in}, 11);
  Variable b = with_bias ? random_param({n_out}, 12) : Variable();
  Tensor G = random_tensor({rows, n_out}, 13);
  // Gradients accumulate: start them from known values and subtract those.
  const Tensor x0 = random_tensor(x.shape(), 14), w0 = random_tensor(w.shape(), 15), b0 = random_tensor({n_out}, 16);
  x.impl()->grad = x0.copy();
  w.impl()->grad = w0.copy();
  if (with_bias) b.impl()->grad = b0.copy();
  Variable out;
  {
    PrecisionScope bf16(Precision::BF16);
    out = linear(x, w, b);
    out.backward(G);
  }
  bool any_differs_from_fp32 = false;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n_out; ++j) {
      Acc a;
      double exact = with_bias ? b.data().at(j) : 0.0;
      for (int64_t k = 0; k < n_in; ++k) {
        a.add(r16(x.data().at(r * n_in + k)), r16(w.data().at(j * n_in + k)));
        exact += static_cast<double>(x.data().at(r * n_in + k)) * w.data().at(j * n_in + k);
      }
      if (with_bias) a.value += b.data().at(j);
      expect_acc(out.data().at(r * n_out + j), a, "out", r * n_out + j);
      any_differs_from_fp32 |= std::fabs(out.data().at(r * n_out + j) - exact) > 1e-4 * (1 + std::fabs(exact));
    }
  EXPECT_TRUE(any_differs_from_fp32) << "the output equals the fp32 product: the operands were not rounded";
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < n_in; ++k) {
      Acc a;
      for (int64_t j = 0; j < n_out; ++j) a.add(r16(G.at(r * n_out + j)), r16(w.data().at(j * n_in + k)));
      a.value += x0.at(r * n_in + k);
      a.abs_sum += std::fabs(x0.at(r * n_in + k));
      expect_acc(x.grad().at(r * n_in + k), a, "dx", r * n_in + k);
    }
  for (int64_t j = 0; j < n_out; ++j)
    for (int64_t k = 0; k < n_in; ++k) {
      Acc a;
      for (int64_t r = 0; r < rows; ++r) a.add(r16(G.at(r * n_out + j)), r16(x.data().at(r * n_in + k)));
      a.value += w0.at(j * n_in + k);
      a.abs_sum += std::fabs(w0.at(j * n_in + k));
      expect_acc(w.grad().at(j * n_in + k), a, "dW", j * n_in + k);
    }
  if (!with_bias) return;
  for (int64_t j = 0; j < n_out; ++j) {
    double sum = b0.at(j), abs_sum = std::fabs(b0.at(j));
    for (int64_t r = 0; r < rows; ++r) {
      sum += G.at(r * n_out + j);  // the fp32 gradient, not its bf16 rounding
      abs_sum += std::fabs(G.at(r * n_out + j));
    }
    ASSERT_NEAR(b.grad().at(j), sum, 1e-6 * abs_sum) << "db " << j;
  }
}

TEST(LinearBf16, ForwardAndBackwardMatchDoubleLoopsOnTheRoundedOperands) {
  SKIP_WITHOUT_AVX512();
  check_linear_bf16(13, 33, 7, true);
  check_linear_bf16(64, 96, 130, false);
}

TEST(LinearBf16, WeightCacheServesForwardAndBackwardWithOneConversion) {
  SKIP_WITHOUT_AVX512();
  Variable x = random_param({9, 16}, 20), w = random_param({8, 16}, 21), b = random_param({8}, 22);
  PrecisionScope bf16(Precision::BF16);
  Bf16WeightCache cache;
  Variable y = linear(linear(x, w, b), random_param({5, 8}, 23), Variable());
  Variable z = linear(x, w, b);  // the same weight again
  EXPECT_EQ(cache.conversions(), 2);
  y.backward(random_tensor({9, 5}, 24));
  EXPECT_EQ(cache.conversions(), 2);
}

// Each part: out_i = bf16(x)·bf16(W_i)ᵀ + b_i, whether the parts' buffers lie back
// to back (one GEMM) or apart (one GEMM each); gradients as for linear.
void check_linear_concat_bf16(bool back_to_back) {
  SCOPED_TRACE(back_to_back ? "back to back" : "separate buffers");
  const int64_t rows = 11, n_in = 24;
  const std::vector<int64_t> widths{8, 5, 8};
  Tensor wbuf = random_tensor({21, n_in}, 30), bbuf = random_tensor({21}, 31);
  std::vector<Variable> ws, bs;
  int64_t off = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    const int64_t n = widths[i];
    if (back_to_back) {
      ws.emplace_back(wbuf.slice(off, off + n), true);
      bs.emplace_back(bbuf.reshape({21, 1}).slice(off, off + n).reshape({n}), true);
    } else {
      ws.emplace_back(wbuf.slice(off, off + n).copy(), true);
      bs.emplace_back(bbuf.reshape({21, 1}).slice(off, off + n).reshape({n}).copy(), true);
    }
    off += n;
  }
  if (back_to_back) {  // one gradient buffer for the parts too, as the fused attention projections have
    Tensor gw = Tensor::zeros({21, n_in}), gb = Tensor::zeros({21});
    off = 0;
    for (size_t i = 0; i < widths.size(); ++i) {
      ws[i].impl()->grad = gw.slice(off, off + widths[i]);
      bs[i].impl()->grad = gb.reshape({21, 1}).slice(off, off + widths[i]).reshape({widths[i]});
      off += widths[i];
    }
  }
  Variable x = random_param({rows, n_in}, 32, -2, 2);
  Tensor G = random_tensor({rows, 21}, 33);
  {
    PrecisionScope bf16(Precision::BF16);
    Variable out = linear_concat(x, ws, bs);
    out.backward(G);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < 21; ++c) {
        Acc a;
        for (int64_t k = 0; k < n_in; ++k) a.add(r16(x.data().at(r * n_in + k)), r16(wbuf.at(c * n_in + k)));
        a.value += bbuf.at(c);
        expect_acc(out.data().at(r * 21 + c), a, "out", r * 21 + c);
      }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < n_in; ++k) {
      Acc a;
      for (int64_t c = 0; c < 21; ++c) a.add(r16(G.at(r * 21 + c)), r16(wbuf.at(c * n_in + k)));
      expect_acc(x.grad().at(r * n_in + k), a, "dx", r * n_in + k);
    }
  off = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    for (int64_t j = 0; j < widths[i]; ++j) {
      for (int64_t k = 0; k < n_in; ++k) {
        Acc a;
        for (int64_t r = 0; r < rows; ++r) a.add(r16(G.at(r * 21 + off + j)), r16(x.data().at(r * n_in + k)));
        expect_acc(ws[i].grad().at(j * n_in + k), a, "dW", j * n_in + k);
      }
      double sum = 0.0;
      for (int64_t r = 0; r < rows; ++r) sum += G.at(r * 21 + off + j);
      ASSERT_NEAR(bs[i].grad().at(j), sum, 1e-5) << "db part " << i << " " << j;
    }
    off += widths[i];
  }
}

TEST(LinearConcatBf16, BackToBackAndSeparatePartsMatchDoubleLoops) {
  SKIP_WITHOUT_AVX512();
  check_linear_concat_bf16(true);
  check_linear_concat_bf16(false);
}

// activate_bf16 writes bf16(f(x)) bit for bit, with f's exact fp32 gradient; a linear
// layer takes that BF16 tensor as its operand as it is.
TEST(ActivateBf16, RoundsTheFp32ActivationAndBackpropagatesItsExactGradient) {
  const int64_t n = 40000;  // above the parallel threshold, not a multiple of the chunk
  for (Activation a : {Activation::Gelu, Activation::GeluTanh, Activation::Relu}) {
    SCOPED_TRACE(activation_name(a));
    Variable x = random_param({n / 8, 8}, 50, -4, 4);
    Variable y = activate_bf16(x, a);
    ASSERT_EQ(y.data().dtype(), DType::BF16);
    ASSERT_EQ(y.shape(), x.shape());
    Tensor want = Tensor::empty(x.shape());
    Tensor grad = random_tensor(x.shape(), 51);
    Tensor dx = Tensor::zeros(x.shape());
    auto fwd = a == Activation::Relu ? relu_forward : a == Activation::Gelu ? gelu_forward : gelu_tanh_forward;
    auto bwd = a == Activation::Relu ? relu_backward : a == Activation::Gelu ? gelu_backward : gelu_tanh_backward;
    fwd(want.data(), x.data().data(), n);
    bwd(dx.data(), grad.data(), x.data().data(), n);
    const bf16_t* got = static_cast<const bf16_t*>(y.data().raw_data());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], to_bf16(want.at(i))) << i;
    y.backward(grad);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(x.grad().at(i), dx.at(i)) << i;
  }
}

TEST(FeedForwardBf16, EqualsFc2OfTheRoundedActivationAndFallsBackUnderDropout) {
  SKIP_WITHOUT_AVX512();
  FeedForward ffn(16, 40, Activation::Gelu, 0.0f);
  Generator init(3);
  for (auto& [name, p] : ffn.named_parameters()) fill_uniform(p->mutable_data().data(), p->numel(), -0.3f, 0.3f, init);
  Variable x = random_param({7, 16}, 60);
  PrecisionScope bf16(Precision::BF16);
  const Variable y = ffn.forward(x);
  // The same through the fp32 activation, rounded by the linear layer itself.
  const Variable h = gelu(linear(x, ffn.fc1.weight, ffn.fc1.bias));
  const Variable want = linear(h, ffn.fc2.weight, ffn.fc2.bias);
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(y.data().at(i), want.data().at(i)) << i;
  // With dropout to apply, the fp32 path (dropout works on fp32 activations).
  FeedForward with_dropout(16, 40, Activation::Gelu, 0.5f);
  EXPECT_EQ(with_dropout.forward(x).data().dtype(), DType::F32);
}

// Causal attention, 2 heads, blocks smaller than the sequence. The reference is the
// fp32 definition in double. Rounding q and k (2⁻⁸ relative each) moves a score
// s = q·k/√d by at most 2⁻⁷·Σ|q_c k_c|/√d =: 2⁻⁷·A, a weight by about that times
// 2 relative, and rounding p and v costs 2⁻⁸ each: |ΔO| ≤ (2⁻⁷ + 2⁻⁶·A)·Σ_j p_j|v_j|,
// allowed twice over.
TEST(AttentionBf16, ForwardAndBackwardAgreeWithFp32WithinBf16Rounding) {
  SKIP_WITHOUT_AVX512();
  AttentionDims d;
  d.batch = 2, d.n_head = 2, d.q_len = 37, d.kv_len = 37, d.head_dim = 16, d.causal = true, d.block_q = 16;
  d.ldq = d.ldk = d.ldv = 96;  // Q, K, V: column slices of one fused projection's rows
  d.ldo = 32;
  const int64_t rows = d.batch * d.q_len, width = 32;
  Tensor QKV = random_tensor({rows, 96}, 40);
  const float *Qp = QKV.data(), *Kp = QKV.data() + 32, *Vp = QKV.data() + 64;
  const AttentionPlan plan = attention_plan(d);
  Tensor O32 = Tensor::empty({rows, width}), O16 = Tensor::empty({rows, width}), O16r = Tensor::empty({rows, width});
  Tensor P32 = Tensor::empty({plan.p_numel(d)}), P16 = Tensor::empty({plan.p_numel(d)});
  attention_forward(O32.data(), P32.data(), Qp, Kp, Vp, d, plan);
  {
    PrecisionScope bf16(Precision::BF16);
    attention_forward(O16.data(), P16.data(), Qp, Kp, Vp, d, plan);
    attention_forward(O16r.data(), nullptr, Qp, Kp, Vp, d, plan);
  }
  const double scale = 1.0 / 4.0;
  bool any_differs = false;
  for (int64_t b = 0; b < d.batch; ++b)
    for (int64_t h = 0; h < d.n_head; ++h)
      for (int64_t i = 0; i < d.q_len; ++i) {
        std::vector<double> s(i + 1);
        double mx = -1e300, A = 0.0;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0.0, abs_dot = 0.0;
          for (int64_t c = 0; c < 16; ++c) {
            const double q = Qp[(b * d.q_len + i) * 96 + h * 16 + c], k = Kp[(b * d.kv_len + j) * 96 + h * 16 + c];
            dot += q * k;
            abs_dot += std::fabs(q * k);
          }
          s[j] = dot * scale;
          A = std::max(A, abs_dot * scale);
          mx = std::max(mx, s[j]);
        }
        double total = 0.0;
        for (double& v : s) total += (v = std::exp(v - mx));
        for (int64_t c = 0; c < 16; ++c) {
          double o = 0.0, pv = 0.0;
          for (int64_t j = 0; j <= i; ++j) {
            const double v = Vp[(b * d.kv_len + j) * 96 + h * 16 + c];
            o += s[j] / total * v;
            pv += s[j] / total * std::fabs(v);
          }
          const int64_t at = (b * d.q_len + i) * width + h * 16 + c;
          ASSERT_NEAR(O16.at(at), o, 2 * (1.0 / 128 + A / 64) * pv) << "row " << b * d.q_len + i << " col " << h * 16 + c;
          ASSERT_EQ(O16r.at(at), O16.at(at)) << "without stored weights, the same output";
          any_differs |= O16.at(at) != O32.at(at);
        }
      }
  EXPECT_TRUE(any_differs) << "bf16 attention gave the fp32 result: nothing was rounded";
  {
    // A bf16 output: the same accumulation, rounded once (at most half a bf16 ulp, 2⁻⁸ relative).
    std::vector<bf16_t> Ob(rows * width);
    PrecisionScope bf16(Precision::BF16);
    attention_forward(Ob.data(), nullptr, Qp, Kp, Vp, d, plan);
    for (int64_t i = 0; i < rows * width; ++i)
      ASSERT_NEAR(from_bf16(Ob[i]), O16.at(i), std::fabs(O16.at(i)) / 256 + 1e-30) << "bf16 output " << i;
  }
  {
    std::vector<bf16_t> Ob(rows * width);
    EXPECT_CONTAINS(error_message([&] { attention_forward(Ob.data(), nullptr, Qp, Kp, Vp, d, plan); }),
                    "needs Precision::BF16");
  }

  // Gradients: against the fp32 kernel's (itself checked against finite differences in
  // test_kernels_attention), within 2⁻⁵ of each gradient's largest magnitude.
  Tensor G = random_tensor({rows, width}, 43);
  auto grads = [&](Precision p, const float* P) {
    PrecisionScope scope(p);
    Tensor dQKV = Tensor::zeros({rows, 96});
    float* g = dQKV.data();
    attention_backward(g, g + 32, g + 64, G.data(), P, Qp, Kp, Vp, d, plan);
    std::vector<Tensor> parts(3, Tensor::empty({rows, width}));
    for (int t = 0; t < 3; ++t) {
      parts[t] = Tensor::empty({rows, width});
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < width; ++c) parts[t].data()[r * width + c] = g[r * 96 + t * 32 + c];
    }
    return parts;
  };
  const std::vector<Tensor> g32 = grads(Precision::F32, P32.data()), g16 = grads(Precision::BF16, P16.data());
  const std::vector<Tensor> g16r = grads(Precision::BF16, nullptr);
  const char* names[3] = {"dQ", "dK", "dV"};
  for (int t = 0; t < 3; ++t) {
    double mx = 0.0;
    bool differs = false;
    for (int64_t i = 0; i < g32[t].numel(); ++i) mx = std::max(mx, std::fabs(double(g32[t].at(i))));
    for (int64_t i = 0; i < g32[t].numel(); ++i) {
      ASSERT_NEAR(g16[t].at(i), g32[t].at(i), mx / 32) << names[t] << " " << i;
      ASSERT_NEAR(g16r[t].at(i), g16[t].at(i), mx / 256) << names[t] << " recomputed weights, " << i;
      differs |= g16[t].at(i) != g32[t].at(i);
    }
    EXPECT_TRUE(differs) << names[t] << " equals fp32's";
  }
}

// Whole models under bf16: the wiring (fused projections, attention's bf16 output into
// the output projection, the FFN's bf16 activation) gives the fp32 loss within 1% and
// every parameter's gradient within 5% (relative L2), and is not the fp32 result itself.
void check_model_bf16(const nlohmann::json& config) {
  SCOPED_TRACE(config.dump());
  std::unique_ptr<Model> m = ModelRegistry::create(config);
  Generator init(5);
  m->init_weights(init);
  Batch b;
  b.input = random_ids({3, 24}, 50, 70);
  b.target = random_ids({3, 24}, 50, 71);
  if (config["type"] == "transformer") {
    b.source = random_ids({3, 20}, 50, 72);
    b.source_padding = Tensor::zeros({3, 20}, DType::I32);
  }
  auto run = [&](Precision p) {
    PrecisionScope scope(p);
    Bf16WeightCache cache;
    for (auto& [name, v] : m->named_parameters()) v->reset_grad();
    Variable loss = m->loss(b);
    loss.backward();
    std::vector<std::vector<float>> grads;
    for (auto& [name, v] : m->named_parameters()) grads.emplace_back(v->grad().data(), v->grad().data() + v->numel());
    return std::pair{loss.item(), grads};
  };
  const auto [l32, g32] = run(Precision::F32);
  const auto [l16, g16] = run(Precision::BF16);
  EXPECT_NEAR(l16, l32, 0.01 * l32);
  EXPECT_NE(l16, l32);
  // Some gradients are zero in exact arithmetic (a key bias shifts a whole score row,
  // which softmax ignores) and only rounding noise in both: those are held to 10⁻³ of
  // the largest gradient's norm instead.
  std::vector<double> diff(g32.size()), norm(g32.size());
  double largest = 0.0;
  for (size_t i = 0; i < g32.size(); ++i) {
    for (size_t j = 0; j < g32[i].size(); ++j) {
      diff[i] += (g16[i][j] - g32[i][j]) * double(g16[i][j] - g32[i][j]);
      norm[i] += g32[i][j] * double(g32[i][j]);
    }
    diff[i] = std::sqrt(diff[i]), norm[i] = std::sqrt(norm[i]);
    largest = std::max(largest, norm[i]);
  }
  size_t i = 0;
  for (auto& [name, v] : m->named_parameters()) {
    EXPECT_LE(diff[i], 0.05 * norm[i] + 1e-3 * largest) << name << " (gradient norm " << norm[i] << ")";
    ++i;
  }
}

TEST(ModelsBf16, LmAndTransformerFollowFp32LossAndGradients) {
  SKIP_WITHOUT_AVX512();
  check_model_bf16({{"type", "lm"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 32}, {"d_ff", 64}, {"seq_len", 24},
                    {"vocab_size", 50}, {"activation", "gelu"}});
  check_model_bf16({{"type", "transformer"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 32}, {"d_ff", 64},
                    {"seq_len", 24}, {"vocab_size", 50}, {"dropout", 0.0}});
}

TEST(ModelsBf16, LmWithTheModernBlocksFollowsFp32LossAndGradients) {
  SKIP_WITHOUT_AVX512();
  // RMSNorm, rotary positions, SwiGLU, 2 key/value heads for 4 query heads, no biases.
  check_model_bf16({{"type", "lm"}, {"n_layer", 2}, {"n_head", 4}, {"n_kv_head", 2}, {"d_model", 32}, {"d_ff", 64},
                    {"seq_len", 24}, {"vocab_size", 50}, {"norm", "rmsnorm"}, {"pos_emb", "rope"},
                    {"ffn", "swiglu"}, {"bias", false}});
  // Post-norm RMSNorm with biases, sinusoidal positions, multi-query local attention.
  check_model_bf16({{"type", "lm"}, {"n_layer", 2}, {"n_head", 4}, {"n_kv_head", 1}, {"d_model", 32}, {"d_ff", 64},
                    {"seq_len", 24}, {"vocab_size", 50}, {"norm", "rmsnorm"}, {"norm_placement", "post"},
                    {"pos_emb", "sinusoidal"}, {"attention_window", 6}});
}

}  // namespace
}  // namespace tfm
