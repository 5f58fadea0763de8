// autograd/ops/activation: finite-difference gradients of every activation, and
// parsing activation names.
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

struct ActivationOp {
  const char* name;
  Variable (*fn)(const Variable&);
};
void PrintTo(const ActivationOp& op, std::ostream* os) { *os << op.name; }

// Values in ±[0.1, 3]: at least 10 finite-difference steps away from relu's kink at 0.
Variable away_from_zero(const Shape& shape, uint64_t seed) {
  Tensor t = random_tensor(shape, seed, -1.0f, 1.0f);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = std::copysign(0.1f + 2.9f * std::fabs(p[i]), p[i]);
  return Variable(t, true);
}

class ActivationOpTest : public ::testing::TestWithParam<ActivationOp> {};

TEST_P(ActivationOpTest, BackwardMatchesFiniteDifferences) {
  auto f = GetParam().fn;
  std::vector<Variable> in{away_from_zero({3, 5, 7}, 1)};
  EXPECT_GRADCHECK([f](const std::vector<Variable>& v) { return f(v[0]); }, in);
}

TEST_P(ActivationOpTest, BackwardThroughTwoApplications) {
  // f(f(x)·w): the backward reads the right saved tensor (input or output) at each node.
  auto f = GetParam().fn;
  Variable w = away_from_zero({13}, 2);
  std::vector<Variable> in{away_from_zero({7, 13}, 3)};
  auto twice = [f, w](const std::vector<Variable>& v) { return f(mul(f(v[0]), w)); };
  EXPECT_GRADCHECK(twice, in);
}

TEST_P(ActivationOpTest, OutputHasInputShape) {
  auto f = GetParam().fn;
  Variable x = away_from_zero({2, 3, 5}, 4);
  EXPECT_EQ(f(x).shape(), x.shape());
}

INSTANTIATE_TEST_SUITE_P(Ops, ActivationOpTest,
                         ::testing::Values(ActivationOp{"Gelu", gelu}, ActivationOp{"GeluTanh", gelu_tanh},
                                           ActivationOp{"Relu", relu}, ActivationOp{"Tanh", tanh},
                                           ActivationOp{"Sigmoid", sigmoid}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ActivationOp, ReluForwardZeroesNegatives) {
  Variable x(Tensor::from({4}, std::vector<float>{-2.0f, -0.5f, 0.5f, 3.0f}), true);
  Variable y = relu(x);
  EXPECT_EQ(y.data().at(0), 0.0f);
  EXPECT_EQ(y.data().at(1), 0.0f);
  EXPECT_EQ(y.data().at(2), 0.5f);
  EXPECT_EQ(y.data().at(3), 3.0f);
}

TEST(ActivationOp, ActivateDispatchesByEnum) {
  Variable x = away_from_zero({5, 7}, 5);
  for (Activation a : {Activation::Relu, Activation::Gelu, Activation::GeluTanh}) {
    Variable expected = a == Activation::Relu ? relu(x) : a == Activation::Gelu ? gelu(x) : gelu_tanh(x);
    expect_close(activate(x, a).data(), expected.data(), 0.0f);
    EXPECT_EQ(parse_activation(activation_name(a)), a);
    EXPECT_GRADCHECK([a](const std::vector<Variable>& v) { return activate(v[0], a); }, std::vector<Variable>{x});
  }
}

TEST(ActivationOp, UnknownActivationNameThrowsNamingIt) {
  try {
    parse_activation("swish");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("swish"), std::string::npos) << msg;
    EXPECT_NE(msg.find("gelu_tanh"), std::string::npos) << msg;  // lists the valid names
  }
}

}  // namespace
}  // namespace tfm
