// models/block_config: the keys the LM and the encoder-decoder share, and their
// sublayer slots (attention, ffn, norm), each a registered layer named as NAME or
// {"type": NAME, ...options}: parsed one way for both models, written back, and
// reaching the layers the models build, including layers registered here as a
// user's would be.
#include "layers/attention.h"
#include "layers/norm.h"
#include "models/lm.h"
#include "models/transformer.h"
#include "test_util.h"

namespace tfm {
namespace {
using testing::error_message;

nlohmann::json lm(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"type", "lm"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 8}, {"d_ff", 12},
                      {"seq_len", 6}, {"vocab_size", 7}};
  j.update(overrides);
  return j;
}

nlohmann::json transformer(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"type", "transformer"}, {"n_layer", 1}, {"n_head", 2}, {"d_model", 8},
                      {"d_ff", 12},            {"seq_len", 6}, {"vocab_size", 7}};
  j.update(overrides);
  return j;
}

// A user's attention: multi-head attention that counts its calls and keeps its options.
class CountingAttention : public MultiHeadAttention {
 public:
  CountingAttention(const AttentionContext& ctx, const nlohmann::json& options)
      : MultiHeadAttention(ctx, nlohmann::json::object()), options(options), context(ctx) {}
  Variable forward(const Variable& q, const Variable& m, const AttentionMask& mask, Tensor* w) override {
    ++calls;
    return MultiHeadAttention::forward(q, m, mask, w);
  }
  nlohmann::json options;
  AttentionContext context;
  int calls = 0;
};
TFM_REGISTER_ATTENTION("test-counting-attention", CountingAttention, "multi-head attention that counts its calls",
                       {{"tag", "string", "\"\"", "kept"}});

// A user's norm: x·scale, with the eps it was given kept for the test.
class ScaleNorm : public SequenceLayer {
 public:
  ScaleNorm(const NormContext& ctx, const nlohmann::json&) : eps(ctx.eps), bias(ctx.bias) {
    weight = Variable(Tensor::full({1}, 1.0f), true);
    register_parameter("weight", weight, ParamRole::NormWeight);
  }
  Variable forward(const Variable& x) override { return scale(x, weight.data().at(0)); }
  Variable weight;
  float eps;
  bool bias;
};
TFM_REGISTER_NORM("test-scalenorm", ScaleNorm, "x times a learned scalar", {{"eps", "number", "layer_norm_eps", ""}});

TEST(BlockConfig, BothModelsReadTheSameKeysWithTheirOwnDefaults) {
  const LmConfig l = LmConfig::parse(lm());
  const TransformerConfig t = TransformerConfig::parse(transformer());
  EXPECT_EQ(l.activation, Activation::Gelu);
  EXPECT_EQ(t.activation, Activation::Relu);
  EXPECT_TRUE(l.pre_norm);
  EXPECT_FALSE(t.pre_norm);
  EXPECT_EQ(l.dropout, 0.0);
  EXPECT_EQ(t.dropout, 0.1);
  for (const BlockConfig* c : {static_cast<const BlockConfig*>(&l), static_cast<const BlockConfig*>(&t)}) {
    EXPECT_EQ(c->attention.type, "multi_head");
    EXPECT_EQ(c->ffn.type, "feed_forward");
    EXPECT_EQ(c->norm.type, "layernorm");
  }
  // d_ff defaults to 4·d_model in both.
  nlohmann::json no_ff = transformer();
  no_ff.erase("d_ff");
  EXPECT_EQ(TransformerConfig::parse(no_ff).d_ff, 32);
  no_ff = lm();
  no_ff.erase("d_ff");
  EXPECT_EQ(LmConfig::parse(no_ff).d_ff, 32);
}

TEST(BlockConfig, TheTransformerTakesNormTypesAndTheLegacyPlacementAsTheLmDoes) {
  EXPECT_TRUE(TransformerConfig::parse(transformer({{"norm", "pre"}})).pre_norm);  // configs before norm_placement
  const TransformerConfig r = TransformerConfig::parse(transformer({{"norm", "rmsnorm"}, {"norm_placement", "pre"}}));
  EXPECT_EQ(r.norm.type, "rmsnorm");
  EXPECT_TRUE(r.pre_norm);
  EncoderDecoder model(r);
  EXPECT_EQ(dynamic_cast<const Norm&>(*model.decoder.layers[0]->ln3).type(), NormType::RmsNorm);
  ASSERT_NE(model.encoder.ln_f, nullptr);
  EXPECT_EQ(dynamic_cast<const Norm&>(*model.encoder.ln_f).type(), NormType::RmsNorm);
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(transformer({{"norm", "post"}, {"norm_placement", "pre"}})); }),
                  "model.norm = \"post\" (the legacy spelling of the placement) conflicts with model.norm_placement");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(transformer({{"norm", "batchnorm"}})); }),
                  "config: model.norm: unknown norm \"batchnorm\" (one of: layernorm, rmsnorm, test-scalenorm)");
  // The norm's eps reaches the layers.
  const TransformerConfig e = TransformerConfig::parse(transformer({{"norm", {{"type", "layernorm"}, {"eps", 1e-3}}}}));
  EXPECT_EQ(e.layer_norm_eps, 1e-3);
  EncoderDecoder with_eps(e);
  const auto& ln = dynamic_cast<const Norm&>(*with_eps.encoder.layers[0]->ln1);
  const Tensor x = testing::random_tensor({1, 2, 8}, 3, -0.01f, 0.01f);
  // With inputs ~1e-2, eps 1e-3 dominates the variance: the output is far from a unit-variance one.
  const Tensor y = const_cast<Norm&>(ln).forward(Variable(x)).data();
  double sq = 0;
  for (int64_t i = 0; i < 8; ++i) sq += static_cast<double>(y.data()[i]) * y.data()[i];
  EXPECT_LT(sq / 8, 0.5);
}

TEST(BlockConfig, ARegisteredAttentionFillsTheSlotOfBothModelsWithItsOptions) {
  const nlohmann::json slot = {{"type", "test-counting-attention"}, {"tag", "x"}};
  LanguageModel model(LmConfig::parse(lm({{"attention", slot}, {"attention_window", 3}})));
  auto& attn = dynamic_cast<CountingAttention&>(*model.blocks[1]->attn);
  EXPECT_EQ(attn.options, nlohmann::json({{"tag", "x"}}));
  EXPECT_EQ(attn.context.d_model, 8);
  EXPECT_EQ(attn.context.n_head, 2);
  EXPECT_EQ(attn.context.window, 3);
  model.forward(testing::random_ids({1, 4}, 7, 1));
  EXPECT_EQ(attn.calls, 1);
  EXPECT_EQ(model.config()["attention"], slot);
  EXPECT_EQ(LmConfig::parse(model.config()).to_json(), model.config());

  EncoderDecoder ed(TransformerConfig::parse(transformer({{"attention", "test-counting-attention"}})));
  EXPECT_NE(dynamic_cast<CountingAttention*>(ed.decoder.layers[0]->cross_attn.get()), nullptr);
  EXPECT_EQ(ed.config()["attention"], "test-counting-attention");

  EXPECT_CONTAINS(error_message([] { LmConfig::parse(lm({{"attention", "multihead"}})); }),
                  "config: model.attention: unknown attention \"multihead\" (one of: multi_head, "
                  "test-counting-attention) (did you mean \"multi_head\"?)");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(lm({{"attention", {{"type", "test-counting-attention"}, {"tga", 1}}}})); }),
                  "unknown key model.attention.tga (attention \"test-counting-attention\" takes: tag)");
  EXPECT_CONTAINS(error_message([] { LanguageModel m(LmConfig::parse(lm({{"attention", {{"type", "multi_head"}, {"k", 1}}}}))); }),
                  "attention \"multi_head\" takes no options");
}

TEST(BlockConfig, ARegisteredNormGetsTheModelsEpsAndBias) {
  LanguageModel model(LmConfig::parse(lm({{"norm", "test-scalenorm"}, {"layer_norm_eps", 0.25}, {"bias", false}})));
  const auto& n = dynamic_cast<const ScaleNorm&>(*model.ln_f);
  EXPECT_EQ(n.eps, 0.25f);
  EXPECT_FALSE(n.bias);
  EXPECT_EQ(model.config()["norm"], "test-scalenorm");
  // Its parameter is named as the slot's, and initialised by its role.
  Generator gen(1);
  model.init_weights(gen);
  EXPECT_EQ(testing::parameter(model, "blocks.0.ln1.weight").at(0), 1.0f);
}

}  // namespace
}  // namespace tfm
