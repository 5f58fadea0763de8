// optim/ema: the exponential moving average of the weights against the
// recurrence written out in double (ema = w before `start`, then
// decay·ema + (1 − decay)·w after each step), a tied parameter averaged once,
// the in-place swap, and averages() → load() with its errors.
#include "optim/ema.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// Odd shapes; the last is above the OpenMP threshold (1 << 14 elements).
struct Params {
  std::vector<std::string> names = {"blocks.0.fc.weight", "blocks.0.fc.bias", "ln_f.weight", "tok_emb.weight"};
  std::vector<Shape> shapes = {{7, 13}, {13}, {33}, {33, 1000}};
  std::vector<Variable> vars;

  explicit Params(uint64_t seed) {
    for (size_t i = 0; i < names.size(); ++i) vars.emplace_back(random_tensor(shapes[i], seed + i), true);
  }
  NamedParameters named() {
    NamedParameters out;
    for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], &vars[i]);
    return out;
  }
  // What an optimizer step would do: new values for every weight.
  void step(uint64_t seed) {
    for (size_t i = 0; i < vars.size(); ++i) {
      Tensor delta = random_tensor(shapes[i], seed * 101 + i, -0.1f, 0.1f);
      float* w = vars[i].mutable_data().data();
      for (int64_t k = 0; k < vars[i].numel(); ++k) w[k] += delta.at(k);
    }
  }
};

TEST(WeightEma, FollowsTheDoubleRecurrenceFromStartOn) {
  for (const int64_t start : {0, 3}) {
    SCOPED_TRACE(::testing::Message() << "start " << start);
    Params p(1);
    const double decay = 0.9;
    WeightEma ema(p.named(), {decay, start});
    std::vector<std::vector<double>> ref;
    for (auto& v : p.vars) ref.emplace_back(v.data().data(), v.data().data() + v.numel());
    for (int64_t step = 1; step <= 6; ++step) {
      p.step(static_cast<uint64_t>(step));
      ema.update(step);
      for (size_t i = 0; i < p.vars.size(); ++i)
        for (int64_t k = 0; k < p.vars[i].numel(); ++k) {
          const double w = p.vars[i].data().at(k);
          ref[i][k] = step < start ? w : decay * ref[i][k] + (1.0 - decay) * w;
        }
    }
    const auto averages = ema.averages();
    ASSERT_EQ(averages.size(), p.names.size());
    bool differs_from_weights = false;
    for (size_t i = 0; i < p.vars.size(); ++i) {
      EXPECT_EQ(averages[i].first, p.names[i]);
      for (int64_t k = 0; k < p.vars[i].numel(); ++k) {
        ASSERT_NEAR(averages[i].second.at(k), ref[i][k], 1e-6 + 1e-6 * std::fabs(ref[i][k]))
            << p.names[i] << "[" << k << "]";
        differs_from_weights |= std::fabs(averages[i].second.at(k) - p.vars[i].data().at(k)) > 1e-3;
      }
    }
    EXPECT_TRUE(differs_from_weights);
  }
}

TEST(WeightEma, BeforeStartTheAverageIsTheWeightsExactly) {
  Params p(2);
  WeightEma ema(p.named(), {0.99, 5});
  for (int64_t step = 1; step <= 4; ++step) {
    p.step(static_cast<uint64_t>(step) + 10);
    ema.update(step);
  }
  const auto averages = ema.averages();
  for (size_t i = 0; i < p.vars.size(); ++i)
    EXPECT_EQ(std::memcmp(averages[i].second.data(), p.vars[i].data().data(), p.vars[i].data().nbytes()), 0)
        << p.names[i];
}

// A parameter listed under two names (tied) moves once per step, and both names report its average.
TEST(WeightEma, ATiedParameterIsAveragedOnce) {
  Variable w(random_tensor({7}, 3), true);
  NamedParameters named = {{"tok_emb.weight", &w}, {"head.weight", &w}};
  WeightEma ema(named, {0.5, 0});
  const double w0 = w.data().at(2);
  w.mutable_data().data()[2] += 1.0f;
  ema.update(1);
  const auto averages = ema.averages();
  ASSERT_EQ(averages.size(), 2u);
  EXPECT_NEAR(averages[0].second.at(2), 0.5 * w0 + 0.5 * (w0 + 1.0), 1e-6);
  EXPECT_EQ(averages[1].second.at(2), averages[0].second.at(2));
}

// swap() exchanges values in place: the parameters keep their buffers (views such as attention's
// q, k, v stay views), and a second swap restores both sides bitwise.
TEST(WeightEma, SwapExchangesValuesInPlaceAndTwiceRestores) {
  Params p(4);
  WeightEma ema(p.named(), {0.9, 0});
  p.step(1);
  ema.update(1);
  std::vector<Tensor> weights, averages;
  std::vector<const float*> buffers;
  for (auto& v : p.vars) weights.push_back(v.data().copy()), buffers.push_back(v.data().data());
  for (auto& [name, t] : ema.averages()) averages.push_back(t.copy());
  {
    EmaScope scope(&ema);
    for (size_t i = 0; i < p.vars.size(); ++i) {
      EXPECT_EQ(p.vars[i].data().data(), buffers[i]);
      expect_close(p.vars[i].data(), averages[i], 0.0f);
      expect_close(ema.averages()[i].second, weights[i], 0.0f);
    }
  }
  for (size_t i = 0; i < p.vars.size(); ++i) {
    expect_close(p.vars[i].data(), weights[i], 0.0f);
    expect_close(ema.averages()[i].second, averages[i], 0.0f);
  }
  EmaScope nothing(nullptr);  // no average: nothing to swap
}

TEST(WeightEma, LoadRestoresAveragesAndNamesWhatIsMissingOrMismatched) {
  Params a(5), b(6);
  WeightEma ea(a.named(), {0.9, 0}), eb(b.named(), {0.9, 0});
  a.step(2);
  ea.update(1);
  eb.load(ea.averages());
  for (size_t i = 0; i < a.vars.size(); ++i) expect_close(eb.averages()[i].second, ea.averages()[i].second, 0.0f);
  auto missing = ea.averages();
  missing.erase(missing.begin() + 1);
  EXPECT_CONTAINS(error_message([&] { eb.load(missing); }), "missing the average of \"blocks.0.fc.bias\"");
  auto wrong = ea.averages();
  wrong[2].second = Tensor::zeros({4});
  EXPECT_CONTAINS(error_message([&] { eb.load(wrong); }),
                  "the average of \"ln_f.weight\": expected F32 [33], found F32 [4]");
  EXPECT_CONTAINS(error_message([&] { WeightEma(a.named(), {1.0, 0}); }), "decay must be in (0, 1), found 1");
}

TEST(WeightEma, ResetMakesTheAverageTheWeights) {
  Params p(7);
  WeightEma ema(p.named(), {0.9, 0});
  p.step(3);
  ema.update(1);
  ema.reset();
  for (size_t i = 0; i < p.vars.size(); ++i) expect_close(ema.averages()[i].second, p.vars[i].data(), 0.0f);
}

}  // namespace
}  // namespace tfm
