// layers/head: the output-head registry and the "head" config slot (a name or
// {"type": NAME, ...options}, unknown names with the nearest one), the slot as
// configs write it, and the "linear" head, tied (no tensor) or with its own weight.
#include <string>

#include "layers/adaptive_softmax.h"
#include "layers/head.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// A user's own head, registered here as a user would: logits = hidden · Wᵀ · 2.
class DoubledHead : public OutputHead {
 public:
  DoubledHead(const HeadContext& ctx, const nlohmann::json&)
      : weight(random_tensor({ctx.vocab_size, ctx.d_model}, 1), true) {
    register_parameter("weight", weight);
  }
  Variable logits(const Variable& hidden) override { return scale(linear(hidden, weight, Variable()), 2.0f); }
  Variable weight;
};
TFM_REGISTER_HEAD("test_doubled", DoubledHead, ::tfm::HeadTraits{}, "a test head", {});

TEST(HeadSlot, ParsesANameOrATypeWithOptions) {
  EXPECT_EQ(parse_head_slot(nullptr, "model.head").type, "linear");
  EXPECT_EQ(parse_head_slot("adaptive", "model.head").type, "adaptive");
  const LayerSlot slot = parse_head_slot({{"type", "adaptive"}, {"cutoffs", {4, 9}}, {"div_value", 2.0}}, "model.head");
  EXPECT_EQ(slot.type, "adaptive");
  EXPECT_EQ(slot.options, nlohmann::json({{"cutoffs", {4, 9}}, {"div_value", 2.0}}));
  EXPECT_EQ(parse_head_slot({{"type", "linear"}}, "model.head").options, nlohmann::json::object());
}

TEST(HeadSlot, UnknownOrMalformedHeadsAreErrorsNamingTheSlot) {
  const std::string unknown = error_message([] { parse_head_slot("adaptiv", "model.head"); });
  EXPECT_CONTAINS(unknown, "config: model.head: unknown head \"adaptiv\" (one of: adaptive, linear, test_doubled)");
  EXPECT_CONTAINS(unknown, "(did you mean \"adaptive\"?)");
  EXPECT_CONTAINS(error_message([] {
                    parse_head_slot({{"cutoffs", {4}}}, "model.head");
                  }),
                  "config: model.head: expected {\"type\": NAME, ...}");
  EXPECT_CONTAINS(error_message([] { parse_head_slot(3, "model.head"); }), "config: model.head: expected");
}

TEST(HeadSlot, ConfigsOmitTheDefaultAndKeepEverythingElse) {
  EXPECT_TRUE(head_slot_json(parse_head_slot(nullptr, "model.head")).is_null());
  EXPECT_TRUE(head_slot_json(parse_head_slot({{"type", "linear"}}, "model.head")).is_null());
  EXPECT_EQ(head_slot_json(parse_head_slot("test_doubled", "model.head")), "test_doubled");
  const nlohmann::json adaptive = {{"type", "adaptive"}, {"cutoffs", {4, 9}}};
  EXPECT_EQ(head_slot_json(parse_head_slot(adaptive, "model.head")), adaptive);
}

TEST(HeadRegistry, EntriesDeclareWhetherTheyCanTieAndTheirKeys) {
  EXPECT_TRUE(head_registry().get("linear").extra.ties_to_embedding);
  const HeadTable::Entry& adaptive = head_registry().get("adaptive");
  EXPECT_FALSE(adaptive.extra.ties_to_embedding);
  for (const char* key : {"cutoffs", "div_value", "head_bias"}) EXPECT_TRUE(adaptive.has_key(key)) << key;
  EXPECT_FALSE(adaptive.help.empty());
}

TEST(LinearHead, UntiedOwnsItsWeightAndTiedUsesTheEmbedding) {
  const Tensor hidden = random_tensor({2, 3, 5}, 2);
  std::unique_ptr<OutputHead> untied =
      create_head({"linear"}, {.d_model = 5, .vocab_size = 7, .tied_embedding = nullptr});
  auto params = untied->named_parameters();
  ASSERT_EQ(params.size(), 1u);
  EXPECT_EQ(params[0].first, "weight");
  EXPECT_EQ(params[0].second->shape(), Shape({7, 5}));
  const Variable embedding = random_param({7, 5}, 3);
  std::unique_ptr<OutputHead> tied =
      create_head({"linear"}, {.d_model = 5, .vocab_size = 7, .tied_embedding = &embedding});
  EXPECT_TRUE(tied->named_parameters().empty());
  const Variable logits = tied->logits(Variable(hidden));
  ASSERT_EQ(logits.shape(), Shape({2, 3, 7}));
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t v = 0; v < 7; ++v) {
      double want = 0.0;
      for (int64_t k = 0; k < 5; ++k) want += double(hidden.at(r * 5 + k)) * embedding.data().at(v * 5 + k);
      ASSERT_NEAR(logits.data().at(r * 7 + v), want, 1e-5) << r << " " << v;
    }
  // The default loss is the cross-entropy of the logits.
  const Tensor targets = Tensor::from_ids({2, 3}, std::vector<int32_t>{0, 6, 2, -100, 3, 1});
  EXPECT_EQ(tied->loss(Variable(hidden), targets, {}).item(), cross_entropy(logits, targets, {}).item());
  EXPECT_CONTAINS(error_message([] {
                    create_head({"linear", {{"bias", true}}}, {.d_model = 5, .vocab_size = 7});
                  }),
                  "model.head \"linear\" takes no options");
}

TEST(HeadRegistry, AUserHeadPlugsInByName) {
  std::unique_ptr<OutputHead> h =
      create_head(parse_head_slot("test_doubled", "model.head"), {.d_model = 4, .vocab_size = 6});
  auto* doubled = dynamic_cast<DoubledHead*>(h.get());
  ASSERT_NE(doubled, nullptr);
  const Variable hidden(random_tensor({3, 4}, 4));
  const Variable logits = h->logits(hidden);
  const Variable plain = linear(hidden, doubled->weight, Variable());
  for (int64_t i = 0; i < logits.numel(); ++i) ASSERT_EQ(logits.data().at(i), 2.0f * plain.data().at(i));
}

}  // namespace
}  // namespace tfm
