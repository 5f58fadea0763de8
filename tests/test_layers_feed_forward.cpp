// layers/feed_forward: fc2(activation(fc1(x))) against an explicit
// composition, parameter names, the registry constructor, and gradchecks
// w.r.t. the input and every parameter.
#include <cmath>
#include <string>
#include <vector>

#include "layers/feed_forward.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// Inputs of a gradcheck: x first, then the layer's parameters (shared with the layer).
std::vector<Variable> inputs_with_parameters(const Variable& x, const Module& m) {
  std::vector<Variable> in{x};
  for (auto& [name, p] : m.named_parameters()) in.push_back(*p);
  return in;
}

TEST(LayersFeedForward, MatchesExplicitTwoLayerMap) {
  FeedForward ffn(5, 11, Activation::Relu);
  ASSERT_EQ(ffn.fc1.weight.shape(), Shape({11, 5}));
  ASSERT_EQ(ffn.fc2.weight.shape(), Shape({5, 11}));
  Variable x(random_tensor({3, 7, 5}, 1, -2.0f, 2.0f));
  const Tensor y = ffn(x).data();
  ASSERT_EQ(y.shape(), x.shape());
  const float* W1 = ffn.fc1.weight.data().data();
  const float* b1 = ffn.fc1.bias.data().data();
  const float* W2 = ffn.fc2.weight.data().data();
  const float* b2 = ffn.fc2.bias.data().data();
  for (int64_t r = 0; r < 21; ++r) {
    std::vector<double> h(11);
    for (int64_t j = 0; j < 11; ++j) {
      double a = b1[j];
      for (int64_t i = 0; i < 5; ++i) a += double(x.data().at(r * 5 + i)) * W1[j * 5 + i];
      h[j] = std::max(a, 0.0);
    }
    for (int64_t o = 0; o < 5; ++o) {
      double a = b2[o];
      for (int64_t j = 0; j < 11; ++j) a += h[j] * W2[o * 11 + j];
      ASSERT_NEAR(y.at(r * 5 + o), a, 1e-5) << "row " << r;
    }
  }
}

TEST(LayersFeedForward, ParameterNames) {
  FeedForward ffn(4, 8, Activation::Gelu);
  std::vector<std::string> names;
  for (auto& [name, p] : ffn.named_parameters()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(ffn.parameter_count(), 4 * 8 + 8 + 8 * 4 + 4);
}

TEST(LayersFeedForward, GradcheckWithRespectToInputAndParameters) {
  for (Activation act : {Activation::Gelu, Activation::GeluTanh}) {
    SCOPED_TRACE(activation_name(act));
    FeedForward ffn(6, 9, act);
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return ffn(v[0]); },
                     inputs_with_parameters(random_param({2, 5, 6}, 2, -2.0f, 2.0f), ffn));
  }
}

TEST(LayersFeedForward, DropoutActsOnlyInTraining) {
  FeedForward ffn(6, 9, Activation::Gelu, /*dropout=*/0.5f);
  Variable x(random_tensor({4, 6}, 3));
  ffn.eval();
  const Tensor a = ffn(x).data(), b = ffn(x).data();
  expect_close(a, b, 0.0f);
  ffn.train();
  const Tensor c = ffn(x).data();
  double diff = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) diff += std::fabs(a.at(i) - c.at(i));
  EXPECT_GT(diff, 1e-3);
}

TEST(LayersFeedForward, RegistryConstructorTakesSizesFromTheContextAndNoOptions) {
  const LayerContext ctx{.d_model = 6, .d_ff = 10, .activation = Activation::Relu, .dropout = 0.0f};
  FeedForward ffn(ctx, nlohmann::json::object());
  EXPECT_EQ(ffn.fc1.weight.shape(), Shape({10, 6}));
  try {
    FeedForward bad(ctx, nlohmann::json{{"gated", true}});
    ADD_FAILURE() << "options accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("takes no options"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gated"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tfm
