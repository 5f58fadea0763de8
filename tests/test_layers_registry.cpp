// layers/registry: layers created by name, errors listing the registered
// names, and a layer defined here (as a user would) plugging in by name.
#include <string>

#include "layers/feed_forward.h"
#include "layers/registry.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// A user's own position-wise layer: x·scale + shift, scale from the options.
class ScaleShift : public SequenceLayer {
 public:
  ScaleShift(const LayerContext& ctx, const nlohmann::json& options)
      : shift(Tensor::zeros({ctx.d_model}), true), scale_(options.value("scale", 1.0f)) {
    register_parameter("shift", shift);
  }
  Variable forward(const Variable& x) override { return scale(x, scale_) + shift; }
  Variable shift;

 private:
  float scale_;
};
TFM_REGISTER_LAYER("test_scale_shift", ScaleShift);

const LayerContext kContext{.d_model = 6, .d_ff = 12, .activation = Activation::Gelu, .dropout = 0.0f};

TEST(LayersRegistry, CreatesTheFeedForwardLayerByName) {
  ASSERT_TRUE(LayerRegistry::contains("feed_forward"));
  std::unique_ptr<SequenceLayer> layer = LayerRegistry::create("feed_forward", kContext);
  auto* ffn = dynamic_cast<FeedForward*>(layer.get());
  ASSERT_NE(ffn, nullptr);
  EXPECT_EQ(ffn->fc1.weight.shape(), Shape({12, 6}));
  EXPECT_EQ(ffn->fc2.weight.shape(), Shape({6, 12}));
  Variable x(random_tensor({2, 3, 6}, 1));
  EXPECT_EQ((*layer)(x).shape(), x.shape());
}

TEST(LayersRegistry, UnknownNameThrowsListingRegisteredLayers) {
  try {
    LayerRegistry::create("feed_froward", kContext);
    ADD_FAILURE() << "unknown layer created";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown layer \"feed_froward\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("feed_forward"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_scale_shift"), std::string::npos) << msg;
  }
  EXPECT_FALSE(LayerRegistry::contains("feed_froward"));
}

TEST(LayersRegistry, TestLocalLayerIsCreatableWithItsOptions) {
  const auto names = LayerRegistry::names();
  EXPECT_NE(std::find(names.begin(), names.end(), "test_scale_shift"), names.end());
  std::unique_ptr<SequenceLayer> layer = LayerRegistry::create("test_scale_shift", kContext, {{"scale", 3.0}});
  ASSERT_NE(dynamic_cast<ScaleShift*>(layer.get()), nullptr);
  auto params = layer->named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "shift");
  EXPECT_EQ(params[0].second->shape(), Shape({6}));
  Variable x(random_tensor({2, 6}, 2));
  const Tensor y = layer->forward(x).data();
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_FLOAT_EQ(y.at(i), 3.0f * x.data().at(i));
}

TEST(LayersRegistry, RegisteringANameTwiceThrows) {
  EXPECT_THROW(LayerRegistry::add("feed_forward", [](const LayerContext& c, const nlohmann::json& o) {
                 return std::unique_ptr<SequenceLayer>(new ScaleShift(c, o));
               }),
               Error);
}

}  // namespace
}  // namespace tfm
