// linear_concat (fused projections): values and gradients equal separate linears,
// on both the back-to-back fast path and the per-part path.
#include "autograd/ops.h"
#include "layers/attention.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(LinearConcat, MatchesSeparateLinearsAndPassesGradcheck) {
  Variable x = random_param({2, 5, 7}, 1);
  std::vector<Variable> w{random_param({3, 7}, 2), random_param({4, 7}, 3)};
  std::vector<Variable> b{random_param({3}, 4), random_param({4}, 5)};
  Variable fused = linear_concat(x, w, b);
  Variable ref = concat_last({linear(x, w[0], b[0]), linear(x, w[1], b[1])});
  expect_close(fused.data(), ref.data(), 1e-5f);
  std::vector<Variable> in{x, w[0], w[1], b[0], b[1]};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return linear_concat(v[0], {v[1], v[2]}, {v[3], v[4]}); }, in);
}

TEST(LinearConcat, BackToBackBuffersGiveTheSameGradientsAsSeparateOnes) {
  // One [2·4, 6] buffer (values and gradients) viewed as two parameters: the single-GEMM path.
  Tensor w = random_tensor({8, 6}, 7), b = random_tensor({8}, 8);
  Tensor gw = Tensor::zeros({8, 6}), gb = Tensor::zeros({8});
  std::vector<Variable> ws, bs, ws2, bs2;
  for (int i = 0; i < 2; ++i) {
    ws.emplace_back(w.slice(4 * i, 4 * i + 4), true);
    bs.emplace_back(b.slice(4 * i, 4 * i + 4), true);
    ws.back().impl()->grad = gw.slice(4 * i, 4 * i + 4);
    bs.back().impl()->grad = gb.slice(4 * i, 4 * i + 4);
    ws2.emplace_back(w.slice(4 * i, 4 * i + 4).copy(), true);
    bs2.emplace_back(b.slice(4 * i, 4 * i + 4).copy(), true);
  }
  Variable x = random_param({9, 6}, 9), x2(x.data().copy(), true);
  Tensor weights = random_tensor({9, 8}, 10);
  linear_concat(x, ws, bs).backward(weights);
  linear_concat(x2, ws2, bs2).backward(weights);
  expect_close(x.grad(), x2.grad(), 1e-5f);
  for (int i = 0; i < 2; ++i) {
    expect_close(ws[i].grad(), ws2[i].grad(), 1e-5f);
    expect_close(bs[i].grad(), bs2[i].grad(), 1e-5f);
  }
}

TEST(LinearConcat, FusedSelfAttentionParametersAreBackToBack) {
  MultiHeadAttention mha(12, 3);
  EXPECT_EQ(mha.q.weight.data().data() + 144, mha.k.weight.data().data());
  EXPECT_EQ(mha.k.weight.data().data() + 144, mha.v.weight.data().data());
  EXPECT_EQ(mha.q.weight.grad().data() + 144, mha.k.weight.grad().data());
  // Fast path vs per-part path (gradients reset to separate buffers): the same gradients.
  Variable x = random_param({2, 5, 12}, 11);
  Tensor weights = random_tensor({2, 5, 12}, 12);
  mha(x, {.causal = true, .key_padding = Tensor()}).backward(weights);
  Tensor fast_q = mha.q.weight.grad().copy(), fast_v = mha.v.bias.grad().copy(), fast_x = x.grad().copy();
  mha.q.weight.reset_grad();
  mha.v.bias.reset_grad();
  mha.k.weight.reset_grad();
  x.reset_grad();
  mha(x, {.causal = true, .key_padding = Tensor()}).backward(weights);
  expect_close(mha.q.weight.grad(), fast_q, 1e-5f);
  expect_close(mha.v.bias.grad(), fast_v, 1e-5f);
  expect_close(x.grad(), fast_x, 1e-5f);
}

}  // namespace
}  // namespace tfm
