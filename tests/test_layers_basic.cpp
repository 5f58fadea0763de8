// layers/basic: Linear, Embedding, LayerNorm and Dropout against explicit
// references on odd shapes; initialisation ranges; sinusoidal positions
// against the formula of Vaswani et al. 2017, section 3.5.
#include <cmath>
#include <string>
#include <vector>

#include "layers/basic.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(LayersBasic, LinearMatchesExplicitAffineMap) {
  Linear fc(7, 13);
  EXPECT_EQ(fc.in_features(), 7);
  EXPECT_EQ(fc.out_features(), 13);
  ASSERT_EQ(fc.weight.shape(), Shape({13, 7}));
  ASSERT_EQ(fc.bias.shape(), Shape({13}));
  Variable x(random_tensor({3, 5, 7}, 1));
  const Tensor y = fc(x).data();
  ASSERT_EQ(y.shape(), Shape({3, 5, 13}));
  for (int64_t r = 0; r < 15; ++r)
    for (int64_t o = 0; o < 13; ++o) {
      double acc = fc.bias.data().at(o);
      for (int64_t i = 0; i < 7; ++i) acc += double(x.data().at(r * 7 + i)) * fc.weight.data().at(o * 7 + i);
      ASSERT_NEAR(y.at(r * 13 + o), acc, 1e-5) << "row " << r << " output " << o;
    }
}

TEST(LayersBasic, LinearWithoutBiasRegistersOnlyTheWeight) {
  Linear fc(5, 3, /*bias=*/false);
  EXPECT_FALSE(fc.bias.defined());
  auto params = fc.named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "weight");
  Variable x(random_tensor({2, 5}, 2));
  const Tensor y = fc(x).data();
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t o = 0; o < 3; ++o) {
      double acc = 0.0;
      for (int64_t i = 0; i < 5; ++i) acc += double(x.data().at(r * 5 + i)) * fc.weight.data().at(o * 5 + i);
      EXPECT_NEAR(y.at(r * 3 + o), acc, 1e-5);
    }
}

TEST(LayersBasic, LinearInitialisationIsUniformWithinOneOverSqrtFanIn) {
  Linear fc(64, 33);
  const float bound = 1.0f / 8.0f;
  float max_abs = 0.0f;
  for (int64_t i = 0; i < fc.weight.numel(); ++i) max_abs = std::max(max_abs, std::fabs(fc.weight.data().at(i)));
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9f * bound);  // spread over the range, not all tiny
  for (int64_t i = 0; i < fc.bias.numel(); ++i) EXPECT_LE(std::fabs(fc.bias.data().at(i)), bound);
  EXPECT_THROW(Linear(0, 3), Error);
}

TEST(LayersBasic, EmbeddingPicksRowsAndIsInitialisedStandardNormal) {
  Embedding emb(300, 13);
  ASSERT_EQ(emb.weight.shape(), Shape({300, 13}));
  Tensor ids = Tensor::from_ids({2, 3}, std::vector<int32_t>{0, 299, 7, 7, 150, 1});
  const Tensor y = emb(ids).data();
  ASSERT_EQ(y.shape(), Shape({2, 3, 13}));
  for (int64_t t = 0; t < 6; ++t)
    for (int64_t c = 0; c < 13; ++c) ASSERT_EQ(y.at(t * 13 + c), emb.weight.data().at(ids.data_i32()[t] * 13 + c));
  double sum = 0.0, sq = 0.0;
  const int64_t n = emb.weight.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double w = emb.weight.data().at(i);
    sum += w, sq += w * w;
  }
  const double mean = sum / n, std = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(std, 1.0, 0.05);
}

// (x − mean)/√(var + eps)·γ + β per row, biased variance, in double.
void check_layer_norm(const LayerNorm& ln, const Tensor& x) {
  const int64_t dim = x.shape().last(), rows = x.numel() / dim;
  const Tensor y = ln(Variable(x)).data();
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0.0, var = 0.0;
    for (int64_t c = 0; c < dim; ++c) mean += x.at(r * dim + c);
    mean /= dim;
    for (int64_t c = 0; c < dim; ++c) var += (x.at(r * dim + c) - mean) * (x.at(r * dim + c) - mean);
    var /= dim;
    for (int64_t c = 0; c < dim; ++c) {
      const double g = ln.weight.defined() ? ln.weight.data().at(c) : 1.0;
      const double b = ln.bias.defined() ? ln.bias.data().at(c) : 0.0;
      const double ref = (x.at(r * dim + c) - mean) / std::sqrt(var + ln.eps()) * g + b;
      ASSERT_NEAR(y.at(r * dim + c), ref, 2e-5) << "row " << r << " column " << c << " eps " << ln.eps();
    }
  }
}

TEST(LayersBasic, LayerNormMatchesReferenceAndUsesItsEps) {
  LayerNorm ln(13);
  EXPECT_FLOAT_EQ(ln.eps(), 1e-5f);
  for (int64_t c = 0; c < 13; ++c) {
    EXPECT_EQ(ln.weight.data().at(c), 1.0f);
    EXPECT_EQ(ln.bias.data().at(c), 0.0f);
  }
  ln.weight.mutable_data().copy_from(random_tensor({13}, 3, 0.5f, 1.5f));
  ln.bias.mutable_data().copy_from(random_tensor({13}, 4));
  check_layer_norm(ln, random_tensor({5, 7, 13}, 5, -3.0f, 3.0f));
  // A large eps changes the result visibly: it must be the one used.
  LayerNorm wide(13, 0.5f);
  check_layer_norm(wide, random_tensor({7, 13}, 6, -0.5f, 0.5f));
  const Tensor x = random_tensor({1, 13}, 7, -0.5f, 0.5f);
  EXPECT_GT(std::fabs(wide(Variable(x)).data().at(0) - LayerNorm(13)(Variable(x)).data().at(0)), 0.1f);
  // A constant row normalises to β (zero variance, eps keeps it finite).
  const Tensor constant = Tensor::full({1, 13}, 3.0f);
  const Tensor y = ln(Variable(constant)).data();
  for (int64_t c = 0; c < 13; ++c) EXPECT_NEAR(y.at(c), ln.bias.data().at(c), 1e-5);
}

TEST(LayersBasic, LayerNormWithoutAffineHasNoParameters) {
  LayerNorm ln(7, 1e-3f, /*elementwise_affine=*/false);
  EXPECT_TRUE(ln.named_parameters().empty());
  check_layer_norm(ln, random_tensor({4, 7}, 8));
  EXPECT_THROW(LayerNorm(7, 0.0f), Error);
}

TEST(LayersBasic, DropoutIsIdentityInEvalAndReproducibleFromTheGeneratorState) {
  Dropout drop(0.25f);
  EXPECT_FLOAT_EQ(drop.p(), 0.25f);
  Variable x(random_tensor({4, 33}, 9));
  drop.eval();
  EXPECT_TRUE(drop(x).data().shares_storage(x.data()));
  drop.train();
  default_generator().set_state(42, 0);
  const Tensor a = drop(x).data();
  default_generator().set_state(42, 0);
  const Tensor b = drop(x).data();
  expect_close(a, b, 0.0f);
  int64_t zeros = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (a.at(i) == 0.0f) ++zeros;
    else ASSERT_NEAR(a.at(i), x.data().at(i) / 0.75f, 1e-6f);
  }
  EXPECT_GT(zeros, 10);
  EXPECT_LT(zeros, 60);
  EXPECT_THROW(Dropout(1.0f), Error);
}

TEST(LayersBasic, SinusoidalPositionsMatchTheFormula) {
  for (int64_t dim : {12, 7}) {
    const Tensor pe = sinusoidal_positions(50, dim);
    ASSERT_EQ(pe.shape(), Shape({50, dim}));
    for (int64_t pos = 0; pos < 50; ++pos)
      for (int64_t i = 0; 2 * i < dim; ++i) {
        const double angle = pos / std::pow(10000.0, 2.0 * i / dim);
        ASSERT_NEAR(pe.at(pos * dim + 2 * i), std::sin(angle), 1e-6) << "PE(" << pos << ", " << 2 * i << ")";
        if (2 * i + 1 < dim) {
          ASSERT_NEAR(pe.at(pos * dim + 2 * i + 1), std::cos(angle), 1e-6) << "PE(" << pos << ", " << 2 * i + 1 << ")";
        }
      }
  }
  const Tensor pe = sinusoidal_positions(3, 4);
  // Hand values: position 0 is (0, 1, 0, 1); position 1 is (sin 1, cos 1, sin 0.01, cos 0.01).
  const std::vector<float> expected{0.0f, 1.0f, 0.0f, 1.0f, std::sin(1.0f), std::cos(1.0f), std::sin(0.01f),
                                    std::cos(0.01f)};
  expect_close(pe.data(), expected.data(), 8, 1e-7f);
}

}  // namespace
}  // namespace tfm
