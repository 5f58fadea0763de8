// autograd/variable: the tape itself: accumulation, NoGradGuard, detach,
// shared inputs, freeing the graph, and errors that name the op.
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(Variable, ScalarBackwardSeedsWithOne) {
  Variable x = random_param({7}, 1);
  Variable y = sum(scale(x, 3.0f));
  y.backward();
  for (int64_t i = 0; i < 7; ++i) EXPECT_FLOAT_EQ(x.grad().at(i), 3.0f);
}

TEST(Variable, GradientsAccumulateAcrossTwoBackwardCalls) {
  Variable x = random_param({3, 5}, 2), w = random_param({3, 5}, 3);
  auto loss = [&] { return sum(tanh(mul(x, w))); };
  loss().backward();
  const Tensor once_x = x.grad().copy(), once_w = w.grad().copy();
  loss().backward();
  for (int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_FLOAT_EQ(x.grad().at(i), 2.0f * once_x.at(i));
    EXPECT_FLOAT_EQ(w.grad().at(i), 2.0f * once_w.at(i));
  }
  x.zero_grad();
  EXPECT_TRUE(x.grad().defined());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(x.grad().at(i), 0.0f);
  x.reset_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Variable, NoGradGuardRecordsNothing) {
  Variable x = random_param({2, 3}, 4), w = random_param({4, 3}, 5);
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    Variable y = relu(linear(x, w, Variable()));
    EXPECT_FALSE(y.requires_grad());
    EXPECT_TRUE(y.is_leaf());
    {
      NoGradGuard nested;
    }
    EXPECT_FALSE(grad_enabled());  // the nested guard restores "disabled", not "enabled"
  }
  EXPECT_TRUE(grad_enabled());
  Variable y = linear(x, w, Variable());
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
}

TEST(Variable, OpsOnConstantsRecordNothing) {
  Variable a(random_tensor({3}, 6)), b(random_tensor({3}, 7));
  Variable c = add(a, b);
  EXPECT_FALSE(c.requires_grad());
  EXPECT_TRUE(c.is_leaf());
  EXPECT_THROW(sum(c).backward(), Error);
}

TEST(Variable, DetachSharesDataWithoutHistory) {
  Variable x = random_param({5}, 8);
  Variable y = scale(x, 2.0f);
  Variable d = y.detach();
  EXPECT_TRUE(d.is_leaf());
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.data().shares_storage(y.data()));
  // Gradient does not flow through the detached branch.
  Variable z = sum(add(mul(d, x), y));  // dz/dx = d + 2 with d treated as a constant
  z.backward();
  for (int64_t i = 0; i < 5; ++i) EXPECT_NEAR(x.grad().at(i), 2.0f * x.data().at(i) + 2.0f, 1e-6);
}

TEST(Variable, DiamondGraphSumsGradientsOfSharedInput) {
  // y = x⊙x + tanh(x) + x: dy/dx = 2x + 1 − tanh²(x) + 1; x feeds four edges.
  Variable x = random_param({7}, 9);
  Variable y = add(add(mul(x, x), tanh(x)), x);
  y.backward(Tensor::full({7}, 1.0f));
  for (int64_t i = 0; i < 7; ++i) {
    const double v = x.data().at(i), t = std::tanh(v);
    EXPECT_NEAR(x.grad().at(i), 2.0 * v + 2.0 - t * t, 1e-5);
  }
}

TEST(Variable, SharedIntermediateReceivesAllItsGradients) {
  // h is used by two consumers; both contributions must reach x through h.
  Variable x = random_param({3, 5}, 10);
  Variable h = scale(x, 3.0f);
  Variable y = sum(add(mul(h, h), h));  // dy/dx = 3·(2h + 1)
  y.backward();
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(x.grad().at(i), 3.0 * (2.0 * h.data().at(i) + 1.0), 1e-4);
  EXPECT_FALSE(h.grad().defined());  // non-leaf gradients are not kept
}

TEST(Variable, GradientFlowsThroughChainsOfTemporaries) {
  // Intermediates here are held only by the graph: backward must keep them alive
  // until their own node has run.
  Variable x = random_param({4, 7}, 11), w = random_param({5, 7}, 12), b = random_param({5}, 13);
  Variable loss = mean(scale(tanh(scale(linear(x, w, b), 0.5f)), 2.0f));
  loss.backward();
  // Reference: d/dx of mean(2·tanh(0.5·(xWᵀ + b))), computed directly.
  const int64_t rows = 4, n_in = 7, n_out = 5;
  std::vector<double> dx(rows * n_in, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_out; ++o) {
      double z = b.data().at(o);
      for (int64_t i = 0; i < n_in; ++i) z += x.data().at(r * n_in + i) * w.data().at(o * n_in + i);
      const double t = std::tanh(0.5 * z), dz = 2.0 * (1.0 - t * t) * 0.5 / (rows * n_out);
      for (int64_t i = 0; i < n_in; ++i) dx[r * n_in + i] += dz * w.data().at(o * n_in + i);
    }
  for (int64_t k = 0; k < rows * n_in; ++k) EXPECT_NEAR(x.grad().at(k), dx[k], 1e-5) << "at " << k;
  EXPECT_TRUE(w.grad().defined());
  EXPECT_TRUE(b.grad().defined());
}

TEST(Variable, GraphIsFreedAfterBackward) {
  Variable x = random_param({3, 5}, 14);
  std::weak_ptr<Node> root_node, inner_node;
  std::weak_ptr<VariableImpl> intermediate;
  Variable loss;
  {
    Variable h = tanh(x);
    inner_node = h.impl()->grad_fn;
    intermediate = h.impl_ptr();
    loss = sum(mul(h, h));
    root_node = loss.impl()->grad_fn;
  }
  EXPECT_FALSE(inner_node.expired());  // the graph holds h and its node until backward
  EXPECT_FALSE(intermediate.expired());
  loss.backward();
  EXPECT_TRUE(root_node.expired());
  EXPECT_TRUE(inner_node.expired());
  EXPECT_TRUE(intermediate.expired());
  EXPECT_TRUE(loss.is_leaf());
}

TEST(Variable, BackwardChecksItsArguments) {
  Variable x = random_param({2, 3}, 15);
  Variable y = scale(x, 2.0f);
  EXPECT_NE(error_message([&] { y.backward(); }).find("[2, 3]"), std::string::npos);
  EXPECT_THROW(y.backward(Tensor::zeros({3, 2})), Error);
  Variable c(Tensor::zeros({1}));
  EXPECT_THROW(c.backward(), Error);
  EXPECT_THROW(y.set_requires_grad(false), Error);  // not a leaf
  c.set_requires_grad(true);
  EXPECT_TRUE(c.requires_grad());
}

TEST(Variable, ShapeErrorsNameTheOp) {
  Variable a = random_param({2, 3}, 16), b = random_param({4}, 17), w = random_param({5, 4}, 18);
  auto expect_names = [](const std::string& msg, const char* op) {
    EXPECT_NE(msg.find(op), std::string::npos) << "message \"" << msg << "\" does not name " << op;
  };
  expect_names(error_message([&] { add(a, b); }), "add");
  expect_names(error_message([&] { mul(a, b); }), "mul");
  expect_names(error_message([&] { linear(a, w, Variable()); }), "linear");
  expect_names(error_message([&] { linear(random_param({2, 4}, 19), w, random_param({4}, 20)); }), "linear");
  expect_names(error_message([&] { matmul(a, random_param({2, 3}, 21)); }), "matmul");
  expect_names(error_message([&] { matmul(random_param({2, 2, 3}, 22), random_param({3, 3, 4}, 23)); }), "matmul");
  expect_names(error_message([&] { layer_norm(a, b, Variable(), 1e-5f); }), "layer_norm");
  expect_names(error_message([&] { concat_last({a, random_param({3, 3}, 24)}); }), "concat_last");
  expect_names(error_message([&] { slice_last(a, 2, 4); }), "slice_last");
  expect_names(error_message([&] { reshape(a, {4, 2}); }), "reshape");
  expect_names(error_message([&] { cross_entropy(a, Tensor::from_ids({3}, std::vector<int32_t>{0, 1, 2})); }),
               "cross_entropy");
  expect_names(error_message([&] { embedding(Tensor::zeros({3}), w); }), "embedding");
}

}  // namespace
}  // namespace tfm
