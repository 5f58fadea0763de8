// The classic attention family and recurrent layers: alignment (global,
// local-m, local-p) and additive scores against naive references, gradchecks
// of every op, local-m with a window covering the sentence equal to global,
// LSTM/GRU cells against the equations, the LSTM's length handling, and the
// Luong attention module for every score × type.
#include <cmath>
#include <string>
#include <vector>

#include "layers/luong_attention.h"
#include "layers/recurrent.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

Tensor padding(int64_t batch, int64_t len, const std::vector<int64_t>& lengths) {
  Tensor p = Tensor::empty({batch, len}, DType::I32);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < len; ++s) p.data_i32()[b * len + s] = s >= lengths[b] ? 1 : 0;
  return p;
}

// Naive alignment in double: the definition of core/kernels/alignment.h.
std::vector<double> reference_align(const Tensor& E, const AlignOptions& o, const Tensor* centres) {
  const int64_t B = E.dim(0), T = E.dim(1), S = E.dim(2);
  std::vector<double> A(static_cast<size_t>(B * T * S), 0.0);
  const double sigma = std::max(0.5, o.window / 2.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      std::vector<bool> visible(S);
      bool any = false;
      for (int64_t s = 0; s < S; ++s) {
        bool v = !(o.key_padding.defined() && o.key_padding.data_i32()[b * S + s]);
        if (o.mode == AlignMode::LocalM) v = v && std::llabs(s - (o.q_offset + t)) <= o.window;
        if (o.mode == AlignMode::LocalP) v = v && std::fabs(s - centres->at(b * T + t)) <= o.window;
        visible[s] = v;
        any = any || v;
      }
      if (!any) continue;
      double mx = -1e300, sum = 0.0;
      for (int64_t s = 0; s < S; ++s)
        if (visible[s]) mx = std::max(mx, double(E.at((b * T + t) * S + s)));
      for (int64_t s = 0; s < S; ++s)
        if (visible[s]) sum += std::exp(E.at((b * T + t) * S + s) - mx);
      for (int64_t s = 0; s < S; ++s) {
        if (!visible[s]) continue;
        double a = std::exp(E.at((b * T + t) * S + s) - mx) / sum;
        if (o.mode == AlignMode::LocalP) {
          const double x = s - centres->at(b * T + t);
          a *= std::exp(-x * x / (2 * sigma * sigma));
        }
        A[(b * T + t) * S + s] = a;
      }
    }
  return A;
}

AlignOptions options(AlignMode mode, int64_t window, const Tensor& pad = Tensor(), int64_t q_offset = 0) {
  AlignOptions o;
  o.mode = mode, o.window = window, o.key_padding = pad, o.q_offset = q_offset;
  return o;
}

TEST(Align, EveryModeMatchesTheNaiveDefinition) {
  const Tensor pad = padding(2, 9, {9, 6});
  Variable E(random_tensor({2, 5, 9}, 1, -3.0f, 3.0f));
  // Centres away from window edges by more than float rounding.
  Tensor c = Tensor::empty({2, 5});
  const float cs[10] = {0.3f, 2.7f, 4.4f, 6.1f, 8.6f, 1.2f, 3.3f, 5.55f, 2.2f, 0.9f};
  std::copy(cs, cs + 10, c.data());
  struct Case {
    const char* name;
    AlignOptions o;
  };
  for (const Case& k : {Case{"global", options(AlignMode::Global, 0, pad)},
                        Case{"local-m D=2", options(AlignMode::LocalM, 2, pad)},
                        Case{"local-m D=1 offset 3", options(AlignMode::LocalM, 1, pad, 3)},
                        Case{"local-p D=2", options(AlignMode::LocalP, 2, pad)},
                        Case{"local-p D=3 no padding", options(AlignMode::LocalP, 3)}}) {
    SCOPED_TRACE(k.name);
    const bool p = k.o.mode == AlignMode::LocalP;
    const Variable A = align(E, k.o, p ? Variable(c) : Variable());
    const std::vector<double> ref = reference_align(E.data(), k.o, p ? &c : nullptr);
    for (int64_t i = 0; i < A.numel(); ++i) ASSERT_NEAR(A.data().at(i), ref[i], 1e-6) << "element " << i;
  }
}

TEST(Align, LocalMWithAWindowCoveringTheSentenceEqualsGlobal) {
  const Tensor pad = padding(3, 7, {7, 4, 1});
  Variable E(random_tensor({3, 6, 7}, 2, -3.0f, 3.0f));
  const Tensor g = align(E, options(AlignMode::Global, 0, pad)).data();
  const Tensor m = align(E, options(AlignMode::LocalM, 7, pad)).data();
  expect_close(m, g, 0.0f);
  // A narrower window really differs.
  const Tensor n = align(E, options(AlignMode::LocalM, 1, pad)).data();
  double diff = 0.0;
  for (int64_t i = 0; i < n.numel(); ++i) diff += std::fabs(n.at(i) - g.at(i));
  EXPECT_GT(diff, 0.1);
}

TEST(Align, GradcheckEveryModeIncludingTheCentres) {
  const Tensor pad = padding(2, 8, {8, 5});
  for (AlignMode mode : {AlignMode::Global, AlignMode::LocalM, AlignMode::LocalP}) {
    SCOPED_TRACE(static_cast<int>(mode));
    std::vector<Variable> in{random_param({2, 4, 8}, 3, -2.0f, 2.0f)};
    if (mode == AlignMode::LocalP) {
      Variable c = random_param({2, 4}, 4, 0.0f, 1.0f);
      const float cs[8] = {1.3f, 2.6f, 3.4f, 5.2f, 0.7f, 2.2f, 3.6f, 4.3f};  // 0.2+ from every window edge
      std::copy(cs, cs + 8, c.mutable_data().data());
      in.push_back(c);
    }
    const AlignOptions o = options(mode, 2, pad);
    GradcheckOptions go;
    go.step = 1e-3;  // the centre's window edges sit 0.2 away
    const GradcheckResult r = gradcheck(
        [o](const std::vector<Variable>& v) { return align(v[0], o, v.size() > 1 ? v[1] : Variable()); }, in, go);
    EXPECT_TRUE(r.ok) << r.report;
    EXPECT_GT(r.checked, 0);
  }
}

TEST(AdditiveScores, MatchesTheDefinitionAndGradchecks) {
  Variable hp = random_param({2, 3, 5}, 5), sp = random_param({2, 4, 5}, 6), v = random_param({5}, 7);
  const Tensor E = additive_scores(hp, sp, v).data();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t s = 0; s < 4; ++s) {
        double e = 0.0;
        for (int64_t k = 0; k < 5; ++k)
          e += v.data().at(k) * std::tanh(double(hp.data().at((b * 3 + t) * 5 + k)) + sp.data().at((b * 4 + s) * 5 + k));
        ASSERT_NEAR(E.at((b * 3 + t) * 4 + s), e, 1e-5);
      }
  EXPECT_GRADCHECK([](const std::vector<Variable>& x) { return additive_scores(x[0], x[1], x[2]); },
                   (std::vector<Variable>{hp, sp, v}));
}

TEST(Steps, TimeStepAndStackStepsAreInverseAndGradcheck) {
  Variable x = random_param({2, 3, 4}, 8);
  std::vector<Variable> steps;
  for (int64_t t = 0; t < 3; ++t) steps.push_back(time_step(x, t));
  expect_close(stack_steps(steps).data(), x.data(), 0.0f);
  EXPECT_GRADCHECK(
      [](const std::vector<Variable>& v) {
        // Reversed order: gradients must land at the right step.
        return stack_steps({time_step(v[0], 2), time_step(v[0], 0), time_step(v[0], 1)});
      },
      (std::vector<Variable>{x}));
}

double sigmoid_d(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TEST(Recurrent, LSTMCellMatchesTheEquations) {
  LSTMCell cell(3, 4);
  Variable x(random_tensor({2, 3}, 9)), h(random_tensor({2, 4}, 10)), c(random_tensor({2, 4}, 11));
  const LSTMCell::State out = cell.forward(x, {h, c});
  const float *Wi = cell.weight_ih.data().data(), *Wh = cell.weight_hh.data().data();
  const float *bi = cell.bias_ih.data().data(), *bh = cell.bias_hh.data().data();
  for (int64_t b = 0; b < 2; ++b) {
    double gate[16];
    for (int64_t j = 0; j < 16; ++j) {
      double a = double(bi[j]) + bh[j];
      for (int64_t k = 0; k < 3; ++k) a += double(Wi[j * 3 + k]) * x.data().at(b * 3 + k);
      for (int64_t k = 0; k < 4; ++k) a += double(Wh[j * 4 + k]) * h.data().at(b * 4 + k);
      gate[j] = a;
    }
    for (int64_t k = 0; k < 4; ++k) {  // PyTorch gate order i, f, g, o
      const double i = sigmoid_d(gate[k]), f = sigmoid_d(gate[4 + k]), g = std::tanh(gate[8 + k]),
                   o = sigmoid_d(gate[12 + k]);
      const double c2 = f * c.data().at(b * 4 + k) + i * g;
      EXPECT_NEAR(out.c.data().at(b * 4 + k), c2, 1e-5);
      EXPECT_NEAR(out.h.data().at(b * 4 + k), o * std::tanh(c2), 1e-5);
    }
  }
}

TEST(Recurrent, GRUCellMatchesTheEquations) {
  GRUCell cell(3, 2);
  Variable x(random_tensor({1, 3}, 12)), h(random_tensor({1, 2}, 13));
  const Tensor out = cell.forward(x, h).data();
  const float *Wi = cell.weight_ih.data().data(), *Wh = cell.weight_hh.data().data();
  const float *bi = cell.bias_ih.data().data(), *bh = cell.bias_hh.data().data();
  auto gi = [&](int64_t j) {
    double a = bi[j];
    for (int64_t k = 0; k < 3; ++k) a += double(Wi[j * 3 + k]) * x.data().at(k);
    return a;
  };
  auto gh = [&](int64_t j) {
    double a = bh[j];
    for (int64_t k = 0; k < 2; ++k) a += double(Wh[j * 2 + k]) * h.data().at(k);
    return a;
  };
  for (int64_t k = 0; k < 2; ++k) {
    const double r = sigmoid_d(gi(k) + gh(k)), z = sigmoid_d(gi(2 + k) + gh(2 + k));
    const double n = std::tanh(gi(4 + k) + r * gh(4 + k));
    EXPECT_NEAR(out.at(k), (1 - z) * n + z * h.data().at(k), 1e-5);
  }
}

std::vector<Variable> with_parameters(std::vector<Variable> in, const Module& m) {
  for (auto& [name, p] : m.named_parameters()) in.push_back(*p);
  return in;
}

TEST(Recurrent, LSTMAndGRUGradcheckThroughTimeAndParameters) {
  LSTM lstm(3, 4);
  EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return lstm.forward(v[0]).first; },
                   with_parameters({random_param({2, 4, 3}, 14)}, lstm));
  GRUCell gru(3, 4);
  EXPECT_GRADCHECK(
      [&](const std::vector<Variable>& v) { return gru.forward(v[0], gru.forward(v[0], v[1])); },
      with_parameters({random_param({2, 3}, 15), random_param({2, 4}, 16)}, gru));
  std::vector<std::string> names;
  for (auto& [name, p] : lstm.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}));
}

TEST(Recurrent, LSTMLengthsKeepTheStateAfterEachSequencesEnd) {
  LSTM lstm(3, 4);
  Variable x(random_tensor({2, 5, 3}, 17));
  const std::vector<int64_t> lengths{5, 2};
  const auto [out, state] = lstm.forward(x, nullptr, &lengths);
  // Sequence 1 alone, truncated to its 2 tokens, ends in the same state.
  Tensor x1 = Tensor::empty({1, 2, 3});
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t k = 0; k < 3; ++k) x1.data()[t * 3 + k] = x.data().at((5 + t) * 3 + k);
  const auto [out1, state1] = lstm.forward(Variable(x1));
  for (int64_t k = 0; k < 4; ++k) {
    EXPECT_NEAR(state.h.data().at(4 + k), state1.h.data().at(k), 1e-6);
    EXPECT_NEAR(state.c.data().at(4 + k), state1.c.data().at(k), 1e-6);
  }
  // Sequence 0 runs all 5 steps: its state differs from its state after 2.
  EXPECT_NE(state.h.data().at(0), out.data().at(1 * 4 + 0));
}

TEST(LuongAttention, EveryScoreAndTypeGradchecksAndReturnsNormalisedWeights) {
  const Tensor pad = padding(2, 6, {6, 4});
  for (const char* type : {"global", "local-m", "local-p"})
    for (const char* score : {"dot", "general", "concat"}) {
      SCOPED_TRACE(std::string(type) + " / " + score);
      default_generator().set_state(20, 0);
      LuongAttention attn(4, LuongAttentionConfig::parse({{"type", type}, {"score", score}, {"window", 2}}));
      Variable h = random_param({2, 3, 4}, 21), src = random_param({2, 6, 4}, 22);
      const LuongAttention::Output out = attn.forward(h, src, pad);
      ASSERT_EQ(out.attentional.shape(), Shape({2, 3, 4}));
      ASSERT_EQ(out.weights.shape(), Shape({2, 3, 6}));
      for (int64_t r = 0; r < 6; ++r) {
        double sum = 0.0;
        for (int64_t s = 0; s < 6; ++s) {
          sum += out.weights.data().at(r * 6 + s);
          if (r >= 3 && s >= 4) {
            EXPECT_EQ(out.weights.data().at(r * 6 + s), 0.0f) << "padded source attended";
          }
        }
        if (std::string(type) != "local-p") {
          EXPECT_NEAR(sum, 1.0, 1e-5);  // local-p: times the Gaussian
        }
      }
      GradcheckOptions go;
      go.step = 1e-3;  // local-p centres move; keep them inside their windows
      const GradcheckResult r = gradcheck(
          [&](const std::vector<Variable>& v) { return attn.forward(v[0], v[1], pad).attentional; },
          with_parameters({h, src}, attn), go);
      EXPECT_TRUE(r.ok) << r.report;
    }
}

TEST(LuongAttention, DotGlobalIsTheSeedFormulation) {
  // score = h_tᵀ s_i, softmax, c_t = Σ a s_i, h̃ = tanh(W_c [c; h]).
  LuongAttention attn(3, LuongAttentionConfig::parse({{"type", "global"}, {"score", "dot"}}));
  Variable h(random_tensor({1, 2, 3}, 23)), src(random_tensor({1, 4, 3}, 24));
  const Tensor out = attn.forward(h, src, Tensor()).attentional.data();
  const float* Wc = attn.named_parameters().at(0).second->data().data();  // W_c.weight [3, 6]
  for (int64_t t = 0; t < 2; ++t) {
    double e[4], mx = -1e300, sum = 0.0, c[3] = {0, 0, 0};
    for (int64_t s = 0; s < 4; ++s) {
      e[s] = 0.0;
      for (int64_t k = 0; k < 3; ++k) e[s] += double(h.data().at(t * 3 + k)) * src.data().at(s * 3 + k);
      mx = std::max(mx, e[s]);
    }
    for (int64_t s = 0; s < 4; ++s) sum += std::exp(e[s] - mx);
    for (int64_t s = 0; s < 4; ++s)
      for (int64_t k = 0; k < 3; ++k) c[k] += std::exp(e[s] - mx) / sum * src.data().at(s * 3 + k);
    for (int64_t j = 0; j < 3; ++j) {
      double a = 0.0;
      for (int64_t k = 0; k < 3; ++k) a += double(Wc[j * 6 + k]) * c[k] + double(Wc[j * 6 + 3 + k]) * h.data().at(t * 3 + k);
      EXPECT_NEAR(out.at(t * 3 + j), std::tanh(a), 1e-5);
    }
  }
}

TEST(LuongAttention, NoneIsTheIdentityAndBadConfigsNameTheKey) {
  LuongAttention none(3, LuongAttentionConfig::parse({{"type", "none"}}));
  Variable h(random_tensor({1, 2, 3}, 25)), src(random_tensor({1, 4, 3}, 26));
  expect_close(none.forward(h, src, Tensor()).attentional.data(), h.data(), 0.0f);
  EXPECT_TRUE(none.named_parameters().empty());
  EXPECT_CONTAINS(error_message([] { LuongAttentionConfig::parse({{"type", "local"}}); }), "attention.type");
  EXPECT_CONTAINS(error_message([] { LuongAttentionConfig::parse({{"score", "cosine"}}); }), "attention.score");
  EXPECT_CONTAINS(error_message([] { LuongAttentionConfig::parse({{"windw", 3}}); }), "unknown key \"windw\"");
  EXPECT_CONTAINS(error_message([] { LuongAttentionConfig::parse({{"window", -1}}); }), "attention.window");
}

}  // namespace
}  // namespace tfm
