// layers/adaptive_softmax: the "adaptive" output head (Grave et al. 2017, with
// PyTorch's nn.AdaptiveLogSoftmaxWithLoss semantics) against a naive reference
// in double written from those semantics: log-probabilities of the whole
// vocabulary (and that they sum to 1), the routed training loss with ignored
// targets, gradchecks, parameter names and shapes (PyTorch's projection widths),
// option errors, and the bf16 path's bounded set of GEMM shapes.
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "core/kernels/matmul.h"
#include "core/precision.h"
#include "layers/adaptive_softmax.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

AdaptiveSoftmaxOptions options(std::vector<int64_t> cutoffs, double div_value, bool head_bias) {
  AdaptiveSoftmaxOptions o;
  o.cutoffs = std::move(cutoffs);
  o.div_value = div_value;
  o.head_bias = head_bias;
  return o;
}

// Uniform weights in ±0.6 (the module's own init is too small for the gradchecks to see much).
void randomize(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) fill_uniform(p->mutable_data().data(), p->numel(), -0.6f, 0.6f, gen);
}

double at(const Variable& v, int64_t i) { return static_cast<double>(v.data().data()[i]); }

// y = W·x (+ b), W [out, in] row-major, in double.
std::vector<double> matvec(const Variable& w, const std::vector<double>& x, const Variable* bias = nullptr) {
  const int64_t out = w.dim(0), in = w.dim(1);
  std::vector<double> y(static_cast<size_t>(out), 0.0);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t k = 0; k < in; ++k) y[o] += at(w, o * in + k) * x[k];
    if (bias != nullptr && bias->defined()) y[o] += at(*bias, o);
  }
  return y;
}

std::vector<double> log_softmax_naive(const std::vector<double>& z) {
  double mx = z[0], sum = 0.0;
  for (double v : z) mx = std::max(mx, v);
  for (double v : z) sum += std::exp(v - mx);
  std::vector<double> out;
  for (double v : z) out.push_back(v - mx - std::log(sum));
  return out;
}

// PyTorch's AdaptiveLogSoftmaxWithLoss._get_full_log_prob for one row x, from the
// module's weights: shortlist from the head; cluster i = head's column
// shortlist + i plus log_softmax(tail.i.1 · tail.i.0 · x).
std::vector<double> naive_log_prob(const AdaptiveSoftmaxHead& h, const std::vector<double>& x) {
  const std::vector<int64_t>& c = h.bounds();
  const std::vector<double> head = log_softmax_naive(matvec(h.head.weight, x, &h.head.bias));
  std::vector<double> out(head.begin(), head.begin() + c[0]);
  for (int64_t i = 0; i + 1 < static_cast<int64_t>(c.size()); ++i) {
    const std::vector<double> t =
        log_softmax_naive(matvec(h.tail(i).output.weight, matvec(h.tail(i).projection.weight, x)));
    for (double v : t) out.push_back(head[c[0] + i] + v);
  }
  return out;
}

std::vector<double> row(const Tensor& hidden, int64_t r) {
  const int64_t d = hidden.shape().last();
  return std::vector<double>(hidden.data() + r * d, hidden.data() + (r + 1) * d);
}

struct Case {
  const char* name;
  int64_t d, vocab;
  std::vector<int64_t> cutoffs;
  double div_value;
  bool head_bias;
};
const std::vector<Case> kCases = {{"two clusters, d 13, vocab 33", 13, 33, {7, 19}, 2.0, true},
                                  {"one cluster, d 7, vocab 13", 7, 13, {5}, 1.5, false},
                                  {"three clusters, widths 4 2 1", 9, 17, {3, 4, 10}, 2.0, true}};

TEST(AdaptiveSoftmax, LogProbMatchesTheNaiveReferenceAndSumsToOne) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    AdaptiveSoftmaxHead h(c.d, c.vocab, options(c.cutoffs, c.div_value, c.head_bias));
    randomize(h, 1);
    const Tensor hidden = random_tensor({3, 7, c.d}, 2, -2.0f, 2.0f);
    const Variable lp = h.log_prob(Variable(hidden));
    ASSERT_EQ(lp.shape(), Shape({3, 7, c.vocab}));
    for (int64_t r = 0; r < 21; ++r) {
      const std::vector<double> want = naive_log_prob(h, row(hidden, r));
      double total = 0.0;
      for (int64_t j = 0; j < c.vocab; ++j) {
        ASSERT_NEAR(at(lp, r * c.vocab + j), want[j], 2e-5 * (1.0 + std::fabs(want[j]))) << "row " << r << " id " << j;
        total += std::exp(at(lp, r * c.vocab + j));
      }
      ASSERT_NEAR(total, 1.0, 1e-5) << "row " << r;
    }
  }
}

// Targets covering the shortlist and each cluster, plus ignored rows.
Tensor targets_for(const Case& c, int64_t rows, uint64_t seed, int32_t ignore_index) {
  Tensor t = random_ids({rows}, static_cast<int32_t>(c.vocab), seed);
  t.data_i32()[0] = 0;
  t.data_i32()[1] = static_cast<int32_t>(c.vocab - 1);
  t.data_i32()[2] = static_cast<int32_t>(c.cutoffs[0]);  // the first id of the first cluster
  t.data_i32()[4] = ignore_index;
  t.data_i32()[rows - 1] = ignore_index;
  return t;
}

TEST(AdaptiveSoftmax, LossIsTheMeanNegativeLogProbOfTheCountedTargets) {
  for (const Case& c : kCases) {
    for (int32_t ignore : {-100, 3}) {
      SCOPED_TRACE(std::string(c.name) + ", ignore_index " + std::to_string(ignore));
      AdaptiveSoftmaxHead h(c.d, c.vocab, options(c.cutoffs, c.div_value, c.head_bias));
      randomize(h, 3);
      const Tensor hidden = random_tensor({3, 11, c.d}, 4, -2.0f, 2.0f);
      const Tensor targets = targets_for(c, 33, 5, ignore);
      double sum = 0.0;
      int64_t count = 0;
      for (int64_t r = 0; r < 33; ++r) {
        const int32_t y = targets.data_i32()[r];
        if (y == ignore) continue;
        sum -= naive_log_prob(h, row(hidden, r))[y];
        ++count;
      }
      const Variable loss = h.loss(Variable(hidden), targets.reshape({3, 11}), {.ignore_index = ignore});
      ASSERT_EQ(loss.shape(), Shape({1}));
      EXPECT_NEAR(loss.item(), sum / count, 2e-6 * sum / count);
    }
  }
}

TEST(AdaptiveSoftmax, LossOfOnlyIgnoredTargetsIsZeroAndEmptyClustersAreSkipped) {
  AdaptiveSoftmaxHead h(7, 13, options({5}, 1.5, false));
  randomize(h, 6);
  const Tensor hidden = random_tensor({4, 7}, 7);
  EXPECT_EQ(h.loss(Variable(hidden), Tensor::from_ids({4}, std::vector<int32_t>{-100, -100, -100, -100}), {}).item(),
            0.0f);
  // Every target in the shortlist: the tail never runs, the loss is the head's cross-entropy.
  const Tensor shortlist = Tensor::from_ids({4}, std::vector<int32_t>{0, 4, 2, 1});
  double sum = 0.0;
  for (int64_t r = 0; r < 4; ++r) sum -= naive_log_prob(h, row(hidden, r))[shortlist.data_i32()[r]];
  EXPECT_NEAR(h.loss(Variable(hidden), shortlist, {}).item(), sum / 4, 2e-6 * sum / 4);
}

std::vector<Variable> inputs_of(const Variable& hidden, const Module& m) {
  std::vector<Variable> in{hidden};
  for (auto& [name, p] : m.named_parameters()) in.push_back(*p);
  return in;
}

TEST(AdaptiveSoftmax, LossGradientsMatchFiniteDifferences) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    AdaptiveSoftmaxHead h(c.d, c.vocab, options(c.cutoffs, c.div_value, c.head_bias));
    randomize(h, 8);
    const Tensor targets = targets_for(c, 13, 9, -100);
    GradcheckOptions opt;
    opt.max_elements = 120;
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return h.loss(v[0], targets, {}); },
                     inputs_of(random_param({13, c.d}, 10, -1.5f, 1.5f), h), opt);
  }
}

TEST(AdaptiveSoftmax, LogProbGradientsMatchFiniteDifferences) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    AdaptiveSoftmaxHead h(c.d, c.vocab, options(c.cutoffs, c.div_value, c.head_bias));
    randomize(h, 11);
    GradcheckOptions opt;
    opt.max_elements = 120;
    EXPECT_GRADCHECK([&](const std::vector<Variable>& v) { return h.log_prob(v[0]); },
                     inputs_of(random_param({2, 3, c.d}, 12, -1.5f, 1.5f), h), opt);
  }
}

TEST(AdaptiveSoftmax, ParametersAreNamedAndShapedAsPyTorchsModule) {
  // d_model 22, div_value 2.2: Python's 22 // 2.2 is 9.0 (fmod first), floor(22 / 2.2) would be 10.
  AdaptiveSoftmaxHead h(22, 40, options({10, 20, 30}, 2.2, true));
  std::map<std::string, Shape> actual;
  for (auto& [name, p] : h.named_parameters()) actual[name] = p->shape();
  const std::map<std::string, Shape> expected{{"head.weight", {13, 22}},    {"head.bias", {13}},
                                              {"tail.0.0.weight", {9, 22}}, {"tail.0.1.weight", {10, 9}},
                                              {"tail.1.0.weight", {4, 22}}, {"tail.1.1.weight", {10, 4}},
                                              {"tail.2.0.weight", {2, 22}}, {"tail.2.1.weight", {10, 2}}};
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(h.shortlist_size(), 10);
  EXPECT_EQ(h.n_clusters(), 3);
  EXPECT_EQ(h.bounds(), (std::vector<int64_t>{10, 20, 30, 40}));
  AdaptiveSoftmaxHead no_bias(22, 40, options({10}, 4.0, false));
  EXPECT_FALSE(no_bias.head.bias.defined());
  EXPECT_EQ(no_bias.tail(0).projection.weight.shape(), Shape({5, 22}));  // 22 // 4
}

TEST(AdaptiveSoftmax, OptionErrorsNameTheKeyAndTheValue) {
  const HeadContext ctx{.d_model = 16, .vocab_size = 50, .tied_embedding = nullptr};
  auto make = [&](const nlohmann::json& o) { AdaptiveSoftmaxHead h(ctx, o); };
  EXPECT_CONTAINS(error_message([&] { make(nlohmann::json::object()); }), "model.head.cutoffs is required");
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", {20, 10}}});
                  }),
                  "model.head.cutoffs must increase: cutoffs[0] = 20, cutoffs[1] = 10");
  EXPECT_CONTAINS(error_message([&] { make({{"cutoffs", {10, 10}}}); }), "must increase");
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", {0, 10}}});
                  }),
                  "model.head.cutoffs[0] = 0 is outside (0, vocab_size = 50)");
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", {10, 50}}});
                  }),
                  "model.head.cutoffs[1] = 50 is outside (0, vocab_size = 50)");
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", {10.5}}});
                  }),
                  "model.head.cutoffs[0]: expected an integer, found 10.5");
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", nlohmann::json::array()}});
                  }),
                  "model.head.cutoffs: expected a non-empty array");
  EXPECT_CONTAINS(error_message([&] { make({{"cutoffs", 10}}); }), "model.head.cutoffs: expected a non-empty array");
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", {10}}, {"div_vlaue", 2}});
                  }),
                  "unknown key model.head.div_vlaue (did you mean model.head.div_value?)");
  EXPECT_CONTAINS(error_message([&] { make({{"cutoffs", {10}}, {"div_value", 0.5}}); }), "model.head.div_value");
  // 16 // 4^3 = 0: the third cluster would have no projection.
  EXPECT_CONTAINS(error_message([&] {
                    make({{"cutoffs", {10, 20, 30}}});
                  }),
                  "cluster 2's projection width d_model // div_value^3 = 16 // 4^3 is 0");
  const Variable embedding(Tensor::zeros({50, 16}));
  const HeadContext tied{.d_model = 16, .vocab_size = 50, .tied_embedding = &embedding};
  EXPECT_CONTAINS(error_message([&] {
                    AdaptiveSoftmaxHead h(tied, {{"cutoffs", {10}}});
                  }),
                  "set model.tie_embeddings to false");
}

TEST(AdaptiveSoftmax, RefusesLabelSmoothingZLossAndOutOfRangeTargets) {
  AdaptiveSoftmaxHead h(7, 13, options({5}, 1.5, false));
  const Variable hidden(random_tensor({2, 7}, 13));
  EXPECT_CONTAINS(error_message([&] {
                    h.loss(hidden, Tensor::from_ids({2}, std::vector<int32_t>{1, 2}), {.label_smoothing = 0.1f});
                  }),
                  "does not support label smoothing");
  EXPECT_CONTAINS(error_message([&] {
                    h.loss(hidden, Tensor::from_ids({2}, std::vector<int32_t>{1, 2}), {.z_loss = 1e-4f});
                  }),
                  "does not support z-loss");
  EXPECT_CONTAINS(error_message([&] {
                    h.loss(hidden, Tensor::from_ids({2}, std::vector<int32_t>{1, 13}), {});
                  }),
                  "target 13 at row 1 out of range [0, 13)");
  EXPECT_CONTAINS(error_message([&] {
                    h.loss(hidden, Tensor::from_ids({3}, std::vector<int32_t>{1, 2, 3}), {});
                  }),
                  "need 2 targets");
}

// Under bf16 every GEMM shape is a cached oneDNN primitive: the tails' row counts,
// which vary from step to step, are rounded to few sizes, and the loss stays that of fp32.
TEST(AdaptiveSoftmax, Bf16LossFollowsFp32WithABoundedSetOfGemmShapes) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  AdaptiveSoftmaxHead h(16, 40, options({8, 20}, 2.0, true));
  randomize(h, 14);
  const int64_t rows = 97;
  const Variable hidden = random_param({rows, 16}, 15);
  // n = 1 … 96 rows routed to the two clusters (ids 8 … 39 in turn), the rest to the shortlist.
  auto sweep = [&](std::set<int64_t>* sizes) {
    for (int64_t n = 1; n < rows; n += 1) {
      Tensor t = Tensor::empty({rows}, DType::I32);
      for (int64_t r = 0; r < rows; ++r) t.data_i32()[r] = static_cast<int32_t>(r < n ? 8 + r % 32 : r % 8);
      if (sizes) sizes->insert(n);
      Variable loss = h.loss(hidden, t, {});
      loss.backward();
    }
  };
  PrecisionScope bf16(Precision::BF16);
  std::set<int64_t> sizes;
  const int64_t before = gemm_primitives_created();
  sweep(&sizes);
  const int64_t first = gemm_primitives_created() - before;
  sweep(nullptr);
  EXPECT_EQ(gemm_primitives_created() - before, first) << "the second pass creates no primitive";
  // Six GEMMs per tail shape (two forward, two backward per Linear): far fewer sizes than row counts seen.
  EXPECT_LT(first, 6 * static_cast<int64_t>(sizes.size()) / 3)
      << first << " primitives for " << sizes.size() << " row counts";

  Tensor t = random_ids({rows}, 40, 16);
  const double bf16_loss = h.loss(hidden, t, {}).item();
  PrecisionScope fp32(Precision::F32);
  const double fp32_loss = h.loss(hidden, t, {}).item();
  EXPECT_NEAR(bf16_loss, fp32_loss, 1e-2 * fp32_loss);
}

// Under bf16 a cluster's 17 rows run as 20 and 33 rows as 40 (padding that repeats the
// cluster's first row with an ignored target): the padding adds no loss and no gradient,
// so the loss and every row's gradient follow fp32's within bf16 rounding.
TEST(AdaptiveSoftmax, Bf16PaddingRowsAddNoLossAndNoGradient) {
  if (!cpu_has_avx512_bf16()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  AdaptiveSoftmaxHead h(16, 40, options({8, 20}, 2.0, false));
  randomize(h, 17);
  const int64_t rows = 64;
  Tensor t = Tensor::empty({rows}, DType::I32);
  for (int64_t r = 0; r < rows; ++r)
    t.data_i32()[r] = static_cast<int32_t>(r < 17 ? 8 + r % 12 : r < 50 ? 20 + r % 20 : r % 8);
  auto run = [&](Precision precision, double* loss) {
    PrecisionScope scope(precision);
    const Variable hidden(random_tensor({rows, 16}, 18), true);
    Variable l = h.loss(hidden, t, {});
    *loss = l.item();
    l.backward();
    return hidden.grad().copy();
  };
  double bf16_loss = 0.0, fp32_loss = 0.0;
  const Tensor g16 = run(Precision::BF16, &bf16_loss), g32 = run(Precision::F32, &fp32_loss);
  EXPECT_NEAR(bf16_loss, fp32_loss, 2e-3 * fp32_loss);
  double scale = 0.0;
  for (int64_t i = 0; i < g32.numel(); ++i) scale = std::max(scale, std::fabs(double(g32.at(i))));
  for (int64_t i = 0; i < g32.numel(); ++i)
    ASSERT_NEAR(g16.at(i), g32.at(i), 2e-2 * scale) << "row " << i / 16 << " column " << i % 16;
}

}  // namespace
}  // namespace tfm
