// Optimizers and schedules (optim/): single steps of SGD, Adam and AdamW
// against the PyTorch update rules written out in double, which parameters
// weight decay touches, gradient clipping, the learning-rate schedules at
// exact steps (wsd at its boundaries, each decay shape), and state() → load_state() continuing identically.
#include "optim/optimizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "optim/schedule.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

using testing::random_tensor;

// A model-shaped parameter set: a matrix (decayed), a bias and a LayerNorm
// gain (1-D, exempt), an embedding table (exempt unless decay_embeddings).
struct ParamSet {
  std::vector<std::string> names = {"blocks.0.fc.weight", "blocks.0.fc.bias", "ln_f.weight", "tok_emb.weight"};
  std::vector<Shape> shapes = {{7, 13}, {13}, {5}, {11, 3}};
  std::vector<Variable> vars;

  explicit ParamSet(uint64_t seed) {
    for (size_t i = 0; i < names.size(); ++i) vars.emplace_back(random_tensor(shapes[i], seed + i), true);
  }
  NamedParameters named() {
    NamedParameters out;
    for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], &vars[i]);
    return out;
  }
  void set_grads(uint64_t seed) {
    for (size_t i = 0; i < vars.size(); ++i) vars[i].ensure_grad().copy_from(random_tensor(shapes[i], seed * 31 + i));
  }
  std::vector<std::vector<double>> values() const {
    std::vector<std::vector<double>> out;
    for (auto& v : vars) out.emplace_back(v.data().data(), v.data().data() + v.numel());
    return out;
  }
};

bool decayed(size_t param_index, bool decay_embeddings) {
  return param_index == 0 || (param_index == 3 && decay_embeddings);
}

void expect_near_reference(const ParamSet& p, const std::vector<std::vector<double>>& ref, const char* what) {
  for (size_t k = 0; k < p.vars.size(); ++k)
    for (int64_t i = 0; i < p.vars[k].numel(); ++i)
      ASSERT_NEAR(p.vars[k].data().data()[i], ref[k][i], 2e-6 + 2e-6 * std::fabs(ref[k][i]))
          << what << ": " << p.names[k] << "[" << i << "]";
}

void expect_bitwise_equal(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()), 0) << what;
}

// torch.optim.Adam / AdamW: m, v moments with bias correction;
// Adam adds weight_decay·w to the gradient, AdamW multiplies w by (1 − lr·wd).
void check_adam(bool decoupled, bool decay_embeddings) {
  OptimizerConfig c;
  c.name = decoupled ? "adamw" : "adam";
  c.beta1 = 0.8;
  c.beta2 = 0.95;
  c.eps = 1e-6;
  c.weight_decay = 0.3;
  c.decay_embeddings = decay_embeddings;
  ParamSet p(1);
  auto opt = make_optimizer(p.named(), c);
  std::vector<std::vector<double>> w = p.values(), m, v;
  for (auto& x : w) m.emplace_back(x.size(), 0.0), v.emplace_back(x.size(), 0.0);
  const std::vector<double> lrs = {0.01, 0.02, 0.005, 0.01};
  for (size_t t = 1; t <= lrs.size(); ++t) {
    p.set_grads(100 + t);
    const double lr = lrs[t - 1];
    for (size_t k = 0; k < w.size(); ++k) {
      const double wd = decayed(k, decay_embeddings) ? c.weight_decay : 0.0;
      const float* g = p.vars[k].grad().data();
      for (size_t i = 0; i < w[k].size(); ++i) {
        double gi = g[i];
        if (decoupled) w[k][i] *= 1.0 - lr * wd;
        else gi += wd * w[k][i];
        m[k][i] = c.beta1 * m[k][i] + (1 - c.beta1) * gi;
        v[k][i] = c.beta2 * v[k][i] + (1 - c.beta2) * gi * gi;
        const double bc1 = 1 - std::pow(c.beta1, t), bc2 = 1 - std::pow(c.beta2, t);
        w[k][i] -= lr / bc1 * m[k][i] / (std::sqrt(v[k][i]) / std::sqrt(bc2) + c.eps);
      }
    }
    opt->step(lr);
    EXPECT_EQ(opt->steps(), static_cast<int64_t>(t));
    expect_near_reference(p, w, decoupled ? "adamw" : "adam");
  }
}

TEST(OptimAdamW, StepsMatchTorchAdamWWithBiasCorrection) { check_adam(true, false); }
TEST(OptimAdamW, DecayEmbeddingsAlsoDecaysTheEmbeddingTable) { check_adam(true, true); }
TEST(OptimAdam, StepsMatchTorchAdamWithL2DecayAddedToTheGradient) { check_adam(false, false); }

// torch.optim.SGD (dampening 0): d = g + wd·w; buf = d on the first step, then
// μ·buf + d; Nesterov uses d + μ·buf, otherwise buf.
void check_sgd(double momentum, bool nesterov) {
  OptimizerConfig c;
  c.name = "sgd";
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = 0.05;
  ParamSet p(2);
  auto opt = make_optimizer(p.named(), c);
  std::vector<std::vector<double>> w = p.values(), buf;
  for (auto& x : w) buf.emplace_back(x.size(), 0.0);
  for (int t = 1; t <= 3; ++t) {
    p.set_grads(200 + t);
    const double lr = 0.1 * t;
    for (size_t k = 0; k < w.size(); ++k) {
      const double wd = decayed(k, false) ? c.weight_decay : 0.0;
      const float* g = p.vars[k].grad().data();
      for (size_t i = 0; i < w[k].size(); ++i) {
        double d = g[i] + wd * w[k][i];
        if (momentum > 0) {
          buf[k][i] = t == 1 ? d : momentum * buf[k][i] + d;
          d = nesterov ? d + momentum * buf[k][i] : buf[k][i];
        }
        w[k][i] -= lr * d;
      }
    }
    opt->step(lr);
    expect_near_reference(p, w, "sgd");
    if (momentum > 0) {
      // The momentum buffer itself, as exposed for checkpoints.
      for (auto& [name, t_buf] : opt->state()) {
        if (name != "momentum.blocks.0.fc.weight") continue;
        for (int64_t i = 0; i < t_buf.numel(); ++i) ASSERT_NEAR(t_buf.data()[i], buf[0][i], 1e-5) << "step " << t;
      }
    }
  }
}

TEST(OptimSgd, PlainStepsMatchTorchSgd) { check_sgd(0.0, false); }
TEST(OptimSgd, MomentumBufferStartsAsTheGradientAsInTorch) { check_sgd(0.9, false); }
TEST(OptimSgd, NesterovStepsMatchTorchSgd) { check_sgd(0.9, true); }

TEST(OptimSgd, MomentumBufferAfterTheFirstStepIsTheGradient) {
  OptimizerConfig c;
  c.name = "sgd";
  c.momentum = 0.5;
  ParamSet p(3);
  auto opt = make_optimizer(p.named(), c);
  p.set_grads(7);
  opt->step(0.1);
  for (auto& [name, t] : opt->state()) {
    if (name.rfind("momentum.", 0) != 0) continue;
    const std::string param = name.substr(9);
    const size_t k = std::find(p.names.begin(), p.names.end(), param) - p.names.begin();
    ASSERT_LT(k, p.names.size()) << name;
    expect_bitwise_equal(t, p.vars[k].grad(), name);
  }
}

TEST(OptimWeightDecay, AppliesToMatricesButNotToOneDimensionalParametersOrEmbeddings) {
  auto dummy = [](const Shape& s) { return Variable(Tensor::zeros(s), true); };
  EXPECT_TRUE(Optimizer::decays("blocks.0.attn.q.weight", dummy({4, 4}), false));
  EXPECT_TRUE(Optimizer::decays("head.weight", dummy({10, 4}), false));
  EXPECT_FALSE(Optimizer::decays("blocks.0.attn.q.bias", dummy({4}), false));
  EXPECT_FALSE(Optimizer::decays("blocks.0.ln1.weight", dummy({4}), true));
  EXPECT_FALSE(Optimizer::decays("tok_emb.weight", dummy({10, 4}), false));
  EXPECT_FALSE(Optimizer::decays("pos_emb.weight", dummy({8, 4}), false));
  EXPECT_FALSE(Optimizer::decays("emb.weight", dummy({10, 4}), false));
  EXPECT_TRUE(Optimizer::decays("tok_emb.weight", dummy({10, 4}), true));

  // With zero gradients only the decayed matrix moves (AdamW: w·(1 − lr·wd)).
  for (const char* name : {"adamw", "adam", "sgd"}) {
    OptimizerConfig c;
    c.name = name;
    c.weight_decay = 0.5;
    ParamSet p(4);
    const auto before = p.values();
    auto opt = make_optimizer(p.named(), c);
    for (auto& v : p.vars) v.ensure_grad().zero();
    opt->step(0.1);
    for (size_t k = 0; k < p.vars.size(); ++k) {
      const float* w = p.vars[k].data().data();
      if (!decayed(k, false)) {
        for (int64_t i = 0; i < p.vars[k].numel(); ++i)
          ASSERT_EQ(w[i], static_cast<float>(before[k][i])) << name << " " << p.names[k];
      } else if (std::string(name) == "adamw") {
        for (int64_t i = 0; i < p.vars[k].numel(); ++i) ASSERT_NEAR(w[i], before[k][i] * 0.95, 1e-6) << name;
      } else {
        bool moved = false;
        for (int64_t i = 0; i < p.vars[k].numel(); ++i) moved |= w[i] != static_cast<float>(before[k][i]);
        EXPECT_TRUE(moved) << name << " " << p.names[k];
      }
    }
  }
}

TEST(OptimGradClip, ScalesToTheMaxGlobalNormAndReturnsTheNormBefore) {
  ParamSet p(5);
  p.set_grads(9);
  double sum = 0.0;
  for (auto& v : p.vars)
    for (int64_t i = 0; i < v.numel(); ++i) sum += static_cast<double>(v.grad().data()[i]) * v.grad().data()[i];
  const double norm = std::sqrt(sum);
  EXPECT_NEAR(grad_norm(p.named()), norm, 1e-9 * norm);
  ASSERT_GT(norm, 1.0);

  // Under the limit: untouched.
  std::vector<Tensor> before;
  for (auto& v : p.vars) before.push_back(v.grad().copy());
  EXPECT_NEAR(clip_grad_norm(p.named(), norm * 2), norm, 1e-9 * norm);
  for (size_t k = 0; k < p.vars.size(); ++k) expect_bitwise_equal(p.vars[k].grad(), before[k], p.names[k]);

  // Over the limit: every gradient scaled by max/norm (torch.nn.utils.clip_grad_norm_).
  EXPECT_NEAR(clip_grad_norm(p.named(), 1.0), norm, 1e-9 * norm);
  EXPECT_NEAR(grad_norm(p.named()), 1.0, 1e-5);
  for (size_t k = 0; k < p.vars.size(); ++k)
    for (int64_t i = 0; i < p.vars[k].numel(); ++i)
      ASSERT_NEAR(p.vars[k].grad().data()[i], before[k].data()[i] / norm, 1e-6);

  // Parameters without a gradient are skipped; non-finite gradients are detected.
  p.vars[2].reset_grad();
  EXPECT_TRUE(grads_finite(p.named()));
  EXPECT_GT(grad_norm(p.named()), 0.0);
  p.vars[1].ensure_grad().data()[3] = NAN;
  EXPECT_FALSE(grads_finite(p.named()));
  EXPECT_TRUE(std::isnan(grad_norm(p.named())));
  p.vars[1].ensure_grad().data()[3] = INFINITY;
  EXPECT_FALSE(grads_finite(p.named()));
}

TEST(OptimSchedule, ConstantWithLinearWarmup) {
  ScheduleConfig s;
  s.name = "constant";
  s.lr = 1e-3;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(s, 1), 2.5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(s, 2), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(s, 3), 7.5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(s, 4), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(s, 5), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(s, 100000), 1e-3);
  s.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(learning_rate(s, 1), 1e-3);
}

TEST(OptimSchedule, CosineWarmsUpThenDecaysToMinLrAtDecayStepsAndStays) {
  ScheduleConfig s;
  s.name = "cosine";
  s.lr = 1.0;
  s.min_lr = 0.1;
  s.warmup_steps = 10;
  s.decay_steps = 110;
  EXPECT_DOUBLE_EQ(learning_rate(s, 1), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 5), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10), 1.0);
  // progress = (step − warmup) / (decay_steps − warmup)
  EXPECT_NEAR(learning_rate(s, 35), 0.1 + 0.45 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_NEAR(learning_rate(s, 60), 0.55, 1e-12);
  EXPECT_NEAR(learning_rate(s, 85), 0.1 + 0.45 * (1 + std::cos(3 * M_PI / 4)), 1e-12);
  EXPECT_NEAR(learning_rate(s, 109), 0.1 + 0.45 * (1 + std::cos(M_PI * 0.99)), 1e-12);
  EXPECT_DOUBLE_EQ(learning_rate(s, 110), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 111), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10000), 0.1);
  // Monotone after the warmup.
  for (int64_t step = 11; step <= 110; ++step) EXPECT_LE(learning_rate(s, step), learning_rate(s, step - 1));
  // Without warmup the first step is already on the cosine.
  s.warmup_steps = 0;
  s.decay_steps = 100;
  EXPECT_NEAR(learning_rate(s, 50), 0.55, 1e-12);
}

TEST(OptimSchedule, NoamPeaksAtWarmupThenFallsAsInverseSquareRoot) {
  ScheduleConfig s;
  s.name = "noam";
  s.lr = 2.0;
  s.warmup_steps = 100;
  EXPECT_DOUBLE_EQ(learning_rate(s, 1), 0.02);
  EXPECT_DOUBLE_EQ(learning_rate(s, 50), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 100), 2.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 400), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10000), 0.2);
  for (int64_t step = 2; step <= 100; ++step) EXPECT_GT(learning_rate(s, step), learning_rate(s, step - 1));
  s.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(learning_rate(s, 4), 1.0);
}

// wsd: warmup 10, decay_steps 110, decay_fraction 0.2: constant lr until D = 110 − 22 = 88, then down to min_lr
// at 110 with p = (step − 88) / 22, by the shape's factor f(p): linear 1 − p, cosine (1 + cos πp)/2,
// sqrt 1 − √p.
TEST(OptimSchedule, WsdWarmsUpHoldsThenDecaysOverTheLastFractionByItsShape) {
  ScheduleConfig s;
  s.name = "wsd";
  s.lr = 1.0;
  s.min_lr = 0.1;
  s.warmup_steps = 10;
  s.decay_steps = 110;
  s.options = {{"decay_fraction", 0.2}};
  EXPECT_DOUBLE_EQ(learning_rate(s, 1), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 11), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(s, 88), 1.0);
  const std::map<std::string, double (*)(double)> shapes = {
      {"linear", [](double p) { return 1.0 - p; }},
      {"cosine", [](double p) { return 0.5 * (1.0 + std::cos(M_PI * p)); }},
      {"sqrt", [](double p) { return 1.0 - std::sqrt(p); }}};
  for (const auto& [shape, f] : shapes) {
    SCOPED_TRACE(shape);
    s.options["decay_shape"] = shape;
    EXPECT_DOUBLE_EQ(learning_rate(s, 88), 1.0);
    for (int64_t step : {89, 95, 99, 109})
      EXPECT_NEAR(learning_rate(s, step), 0.1 + 0.9 * f((step - 88) / 22.0), 1e-12) << "step " << step;
    EXPECT_DOUBLE_EQ(learning_rate(s, 110), 0.1);
    EXPECT_DOUBLE_EQ(learning_rate(s, 111), 0.1);
    EXPECT_DOUBLE_EQ(learning_rate(s, 100000), 0.1);
    for (int64_t step = 11; step <= 110; ++step) EXPECT_LE(learning_rate(s, step), learning_rate(s, step - 1));
  }
  EXPECT_NEAR(learning_rate(s, 99), 0.1 + 0.9 * (1.0 - std::sqrt(0.5)), 1e-12);  // sqrt, halfway
  // The default fraction (0.2) and shape (linear); a decay start that is not a whole step: 7·(1 − 0.3) = 4.9.
  s.options = nlohmann::json::object();
  s.warmup_steps = 0;
  s.decay_steps = 10;
  EXPECT_DOUBLE_EQ(learning_rate(s, 8), 1.0);
  EXPECT_NEAR(learning_rate(s, 9), 0.1 + 0.9 * 0.5, 1e-12);
  s.decay_steps = 7;
  s.options = {{"decay_fraction", 0.3}};
  EXPECT_DOUBLE_EQ(learning_rate(s, 4), 1.0);
  EXPECT_NEAR(learning_rate(s, 5), 0.1 + 0.9 * (1.0 - 0.1 / 2.1), 1e-12);
  // A warmup that ends after (1 − fraction)·decay_steps: the decay starts at the warmup's end.
  s.warmup_steps = 100;
  s.decay_steps = 110;
  s.options = {{"decay_fraction", 0.2}};
  EXPECT_DOUBLE_EQ(learning_rate(s, 100), 1.0);
  EXPECT_NEAR(learning_rate(s, 105), 0.55, 1e-12);
  // decay_fraction 1: the decay starts right after the warmup.
  s.warmup_steps = 0;
  s.options = {{"decay_fraction", 1.0}};
  EXPECT_NEAR(learning_rate(s, 55), 0.55, 1e-12);
}

TEST(OptimSchedule, WsdOptionsAreCheckedWithTheirKeys) {
  ScheduleConfig s;
  s.name = "wsd";
  s.decay_steps = 10;
  s.options = {{"decay_fraction", 0.0}};
  EXPECT_CONTAINS(error_message([&] { make_schedule(s); }), "optim.decay_fraction must be in (0, 1], found 0");
  s.options = {{"decay_fraction", 1.5}};
  EXPECT_CONTAINS(error_message([&] { make_schedule(s); }), "optim.decay_fraction: 1.5 is out of range");
  s.options = {{"decay_shape", "exp"}};
  EXPECT_CONTAINS(error_message([&] { make_schedule(s); }), "optim.decay_shape");
  EXPECT_TRUE(schedule_registry().get("wsd").has_key("decay_steps")) << "so max_time runs derive it";
}

TEST(OptimSchedule, UnknownScheduleIsAnError) {
  ScheduleConfig s;
  s.name = "linear";
  EXPECT_CONTAINS(error_message([&] { learning_rate(s, 5); }), "unknown schedule \"linear\"");
  OptimizerConfig c;
  c.name = "lamb";
  ParamSet p(6);
  EXPECT_CONTAINS(error_message([&] { make_optimizer(p.named(), c); }), "unknown optimizer \"lamb\"");
}

// Three steps, state() saved (deep copies, as a checkpoint would), a fresh
// optimizer over copied parameters restored from it: the next steps agree bit for bit.
void check_state_round_trip(const OptimizerConfig& c) {
  ParamSet a(7);
  auto opt_a = make_optimizer(a.named(), c);
  for (int t = 1; t <= 3; ++t) {
    a.set_grads(300 + t);
    opt_a->step(0.01 * t);
  }
  std::vector<std::pair<std::string, Tensor>> saved;
  for (auto& [name, t] : opt_a->state()) saved.emplace_back(name, t.copy());

  ParamSet b(8);
  for (size_t k = 0; k < b.vars.size(); ++k) b.vars[k].mutable_data().copy_from(a.vars[k].data());
  auto opt_b = make_optimizer(b.named(), c);
  opt_b->load_state(saved);
  EXPECT_EQ(opt_b->steps(), 3);
  for (int t = 4; t <= 6; ++t) {
    a.set_grads(300 + t);
    b.set_grads(300 + t);
    opt_a->step(0.01 * t);
    opt_b->step(0.01 * t);
  }
  for (size_t k = 0; k < a.vars.size(); ++k)
    expect_bitwise_equal(a.vars[k].data(), b.vars[k].data(), c.name + " " + a.names[k]);
  const auto sa = opt_a->state(), sb = opt_b->state();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    expect_bitwise_equal(sa[i].second, sb[i].second, c.name + " " + sa[i].first);
  }
}

TEST(OptimizerState, RoundTripContinuesIdentically) {
  OptimizerConfig adamw;
  adamw.name = "adamw";
  adamw.weight_decay = 0.1;
  check_state_round_trip(adamw);
  OptimizerConfig adam = adamw;
  adam.name = "adam";
  check_state_round_trip(adam);
  OptimizerConfig sgd;
  sgd.name = "sgd";
  sgd.momentum = 0.9;
  sgd.nesterov = true;
  sgd.weight_decay = 0.01;
  check_state_round_trip(sgd);
}

TEST(OptimizerState, StateNamesEveryMomentByParameter) {
  OptimizerConfig c;
  c.name = "adamw";
  ParamSet p(9);
  auto opt = make_optimizer(p.named(), c);
  std::map<std::string, Shape> names;
  for (auto& [name, t] : opt->state()) names[name] = t.shape();
  EXPECT_EQ(names.size(), 1 + 2 * p.names.size());
  EXPECT_TRUE(names.contains("optimizer.steps"));
  EXPECT_EQ(names["exp_avg.tok_emb.weight"], (Shape{11, 3}));
  EXPECT_EQ(names["exp_avg_sq.blocks.0.fc.bias"], (Shape{13}));
}

TEST(OptimizerState, MissingOrMismatchedTensorsAreErrorsNamingThem) {
  OptimizerConfig adamw;
  adamw.name = "adamw";
  ParamSet p(10);
  auto opt = make_optimizer(p.named(), adamw);
  auto state = opt->state();

  auto missing = state;
  missing.erase(missing.begin() + 2);
  const std::string missing_name = state[2].first;
  EXPECT_CONTAINS(error_message([&] { opt->load_state(missing); }), "missing tensor \"" + missing_name + "\"");

  auto wrong_shape = state;
  wrong_shape[1].second = Tensor::zeros({2, 2});
  EXPECT_CONTAINS(error_message([&] { opt->load_state(wrong_shape); }), "tensor \"" + state[1].first + "\"");

  EXPECT_CONTAINS(error_message([&] { opt->load_state({}); }), "missing optimizer.steps");

  // An Adam state does not load into SGD with momentum.
  OptimizerConfig sgd;
  sgd.name = "sgd";
  sgd.momentum = 0.9;
  ParamSet q(11);
  auto opt_sgd = make_optimizer(q.named(), sgd);
  EXPECT_CONTAINS(error_message([&] { opt_sgd->load_state(state); }), "missing tensor \"momentum.");
}

}  // namespace
}  // namespace tfm
