// autograd/ops/embedding: lookup shape and values, gradient to the weight.
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(EmbeddingOp, OutputAppendsDimToIdShape) {
  Variable w = random_param({13, 7}, 1);
  Tensor ids = Tensor::from_ids({2, 3}, std::vector<int32_t>{4, 0, 12, 4, 7, 1});
  Variable y = embedding(ids, w);
  ASSERT_EQ(y.shape(), Shape({2, 3, 7}));
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t c = 0; c < 7; ++c) ASSERT_EQ(y.data().at(i * 7 + c), w.data().at(ids.data_i32()[i] * 7 + c));
}

TEST(EmbeddingOp, BackwardToWeightMatchesFiniteDifferencesWithRepeatedIds) {
  // 15 ids over a vocabulary of 7: every row repeats, some rows may be unused.
  Tensor ids = random_ids({3, 5}, 7, 2);
  ids.data_i32()[1] = ids.data_i32()[0];  // at least one certain repeat
  std::vector<Variable> in{random_param({7, 13}, 3)};
  EXPECT_GRADCHECK([ids](const std::vector<Variable>& v) { return embedding(ids, v[0]); }, in);
}

TEST(EmbeddingOp, BackwardSumsRowsOfRepeatedIds) {
  Variable w = random_param({5, 3}, 4);
  Tensor ids = Tensor::from_ids({4}, std::vector<int32_t>{2, 2, 0, 2});
  Variable y = embedding(ids, w);
  Tensor g = random_tensor({4, 3}, 5);
  y.backward(g);
  for (int64_t c = 0; c < 3; ++c) {
    EXPECT_NEAR(w.grad().at(2 * 3 + c), g.at(c) + g.at(3 + c) + g.at(9 + c), 1e-6);
    EXPECT_NEAR(w.grad().at(0 * 3 + c), g.at(6 + c), 1e-6);
    for (int64_t row : {1, 3, 4}) EXPECT_EQ(w.grad().at(row * 3 + c), 0.0f);
  }
}

TEST(EmbeddingOp, BadIdsThrow) {
  Variable w = random_param({5, 3}, 6);
  EXPECT_THROW(embedding(Tensor::from_ids({2}, std::vector<int32_t>{1, 5}), w), Error);
  EXPECT_THROW(embedding(Tensor::from_ids({2}, std::vector<int32_t>{-1, 0}), w), Error);
  EXPECT_THROW(embedding(Tensor::zeros({2}), w), Error);  // F32 ids
  EXPECT_THROW(embedding(Tensor::from_ids({1}, std::vector<int32_t>{0}), random_param({5}, 7)), Error);
}

}  // namespace
}  // namespace tfm
