#include "autograd/ops.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

TEST(LayerNormOp, BackwardMatchesFiniteDifferences) {
  std::vector<Variable> in{random_param({5, 13}, 1), random_param({13}, 2, 0.5f, 1.5f), random_param({13}, 3)};
  EXPECT_GRADCHECK([](const std::vector<Variable>& v) { return layer_norm(v[0], v[1], v[2], 1e-5f); }, in);
}

}  // namespace
}  // namespace tfm
