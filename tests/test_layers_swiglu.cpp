// layers/swiglu: down(silu(gate(x)) ⊙ up(x)) against an explicit double
// composition (with and without biases), parameter names, the registry entry
// "swiglu" and its context (d_ff, bias), and gradchecks w.r.t. the input and
// every parameter.
#include <cmath>
#include <string>
#include <vector>

#include "layers/swiglu.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

std::vector<double> affine(const Linear& fc, const std::vector<double>& x) {
  const int64_t n_in = fc.in_features(), n_out = fc.out_features();
  std::vector<double> y(n_out);
  for (int64_t o = 0; o < n_out; ++o) {
    double a = fc.bias.defined() ? fc.bias.data().at(o) : 0.0;
    for (int64_t i = 0; i < n_in; ++i) a += x[i] * fc.weight.data().at(o * n_in + i);
    y[o] = a;
  }
  return y;
}

// Non-trivial weights (the default init is fine too, but biases of ±0.6 make a swapped branch obvious).
void randomize(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) fill_uniform(p->mutable_data().data(), p->numel(), -0.6f, 0.6f, gen);
}

TEST(LayersSwiGLU, MatchesExplicitGatedComposition) {
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "bias" : "no bias");
    SwiGLU ffn(5, 11, 0.0f, bias);
    randomize(ffn, 1);
    Variable x(random_tensor({3, 7, 5}, 2, -2.0f, 2.0f));
    const Tensor y = ffn(x).data();
    ASSERT_EQ(y.shape(), x.shape());
    for (int64_t r = 0; r < 21; ++r) {
      std::vector<double> xr(5);
      for (int64_t i = 0; i < 5; ++i) xr[i] = x.data().at(r * 5 + i);
      const std::vector<double> g = affine(ffn.gate, xr), u = affine(ffn.up, xr);
      std::vector<double> h(11);
      for (int64_t j = 0; j < 11; ++j) h[j] = g[j] / (1.0 + std::exp(-g[j])) * u[j];  // silu(g)·u
      const std::vector<double> out = affine(ffn.down, h);
      for (int64_t o = 0; o < 5; ++o) ASSERT_NEAR(y.at(r * 5 + o), out[o], 1e-5) << "row " << r;
    }
  }
}

TEST(LayersSwiGLU, ParameterNamesAndShapes) {
  SwiGLU ffn(4, 8);
  std::vector<std::string> names;
  for (auto& [name, p] : ffn.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"gate.weight", "gate.bias", "up.weight", "up.bias", "down.weight",
                                             "down.bias"}));
  EXPECT_EQ(ffn.down.weight.shape(), Shape({4, 8}));
  SwiGLU no_bias(4, 8, 0.0f, false);
  EXPECT_EQ(no_bias.parameter_count(), 3 * 4 * 8);
}

TEST(LayersSwiGLU, GradcheckWithRespectToInputAndParameters) {
  for (bool bias : {true, false}) {
    SwiGLU ffn(6, 9, 0.0f, bias);
    randomize(ffn, 3);
    std::vector<Variable> in{random_param({2, 5, 6}, 4, -2.0f, 2.0f)};
    for (auto& [name, p] : ffn.named_parameters()) in.push_back(*p);
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return ffn(v[0]); }, in);
  }
}

TEST(LayersSwiGLU, RegistryCreatesItFromTheContextAndRejectsOptions) {
  LayerContext ctx;
  ctx.d_model = 6, ctx.d_ff = 10, ctx.bias = false;
  ASSERT_TRUE(LayerRegistry::contains("swiglu"));
  auto layer = LayerRegistry::create("swiglu", ctx);
  auto* swiglu = dynamic_cast<SwiGLU*>(layer.get());
  ASSERT_NE(swiglu, nullptr);
  EXPECT_EQ(swiglu->gate.weight.shape(), Shape({10, 6}));
  EXPECT_FALSE(swiglu->gate.bias.defined());
  EXPECT_CONTAINS(error_message([&] { LayerRegistry::create("swiglu", ctx, {{"hidden", 3}}); }),
                  "layer \"swiglu\" takes no options");
}

}  // namespace
}  // namespace tfm
