// Parameter roles and module-owned initialisation (layers/init.h, Module::reset_parameters):
// each module declares what its parameters are, a model's InitScheme maps roles to
// initialisers, and nothing matches names. The GPT-2 and Xavier schemes are checked
// against their documented semantics written out over parameter names, draw by draw.
#include <cmath>
#include <map>

#include "layers/feed_forward.h"
#include "layers/registry.h"
#include "models/lm.h"
#include "models/transformer.h"
#include "test_util.h"

namespace tfm {
namespace {
using testing::error_message;
using testing::parameter;

nlohmann::json tiny_lm(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"type", "lm"}, {"n_layer", 3}, {"n_head", 2}, {"d_model", 8}, {"d_ff", 12},
                      {"seq_len", 6}, {"vocab_size", 11}, {"tie_embeddings", false}};
  j.update(overrides);
  return j;
}

// Each role filled with its own constant, so that a parameter's value names its role.
InitScheme constant_scheme() {
  auto fill = [](float v) { return [v](Variable& p, Generator&) { p.mutable_data().fill(v); }; };
  InitScheme s;
  s.weight = fill(1), s.residual_weight = fill(2), s.embedding = fill(3), s.bias = fill(4);
  s.norm_weight = fill(5), s.norm_bias = fill(6);
  return s;  // other: left alone
}

TEST(ParamRoles, EachLayerDeclaresWhatItsParametersAre) {
  LanguageModel lm(LmConfig::parse(tiny_lm()));
  std::map<std::string, ParamRole> roles;
  for (auto& [name, role] : lm.parameter_roles()) roles[name] = role;
  EXPECT_EQ(roles.at("tok_emb.weight"), ParamRole::Embedding);
  EXPECT_EQ(roles.at("pos_emb.weight"), ParamRole::Embedding);
  EXPECT_EQ(roles.at("blocks.0.attn.q.weight"), ParamRole::Weight);
  EXPECT_EQ(roles.at("blocks.0.attn.q.bias"), ParamRole::Bias);
  EXPECT_EQ(roles.at("blocks.2.attn.out.weight"), ParamRole::ResidualWeight);
  EXPECT_EQ(roles.at("blocks.1.ffn.fc1.weight"), ParamRole::Weight);
  EXPECT_EQ(roles.at("blocks.1.ffn.fc2.weight"), ParamRole::ResidualWeight);
  EXPECT_EQ(roles.at("blocks.1.ln2.weight"), ParamRole::NormWeight);
  EXPECT_EQ(roles.at("ln_f.bias"), ParamRole::NormBias);
  EXPECT_EQ(roles.at("head.weight"), ParamRole::Weight);
  EXPECT_EQ(lm.parameter_roles().size(), lm.named_parameters().size());

  LanguageModel swiglu(LmConfig::parse(tiny_lm({{"ffn", "swiglu"}, {"norm", "rmsnorm"}})));
  for (auto& [name, role] : swiglu.parameter_roles()) roles[name] = role;
  EXPECT_EQ(roles.at("blocks.0.ffn.down.weight"), ParamRole::ResidualWeight);
  EXPECT_EQ(roles.at("blocks.0.ffn.gate.weight"), ParamRole::Weight);
}

TEST(ParamRoles, ResetParametersAppliesTheSchemeByRoleAndLeavesOtherAlone) {
  LanguageModel lm(LmConfig::parse(tiny_lm()));
  Generator gen(1);
  lm.reset_parameters(constant_scheme(), gen);
  EXPECT_EQ(parameter(lm, "blocks.0.attn.k.weight").at(3), 1.0f);
  EXPECT_EQ(parameter(lm, "blocks.0.attn.out.weight").at(3), 2.0f);
  EXPECT_EQ(parameter(lm, "blocks.2.ffn.fc2.weight").at(0), 2.0f);
  EXPECT_EQ(parameter(lm, "tok_emb.weight").at(5), 3.0f);
  EXPECT_EQ(parameter(lm, "blocks.1.ffn.fc1.bias").at(1), 4.0f);
  EXPECT_EQ(parameter(lm, "blocks.1.ln1.weight").at(1), 5.0f);
  EXPECT_EQ(parameter(lm, "ln_f.bias").at(7), 6.0f);
}

// A user's layer: a projection it marks as feeding the residual stream, and a
// raw parameter of its own (role Other) that it initialises itself.
class ScaledFfn : public SequenceLayer {
 public:
  ScaledFfn(const LayerContext& ctx, const nlohmann::json&) : proj(ctx.d_model, ctx.d_model) {
    scale = Variable(Tensor::full({1}, 0.5f), true);
    proj.set_parameter_role("weight", ParamRole::ResidualWeight);
    register_module("proj", proj);
    register_parameter("scale", scale);  // 1-D, not "bias": Other
  }
  Variable forward(const Variable& x) override { return proj(x); }
  Linear proj;
  Variable scale;
};
TFM_REGISTER_LAYER("test-scaled-ffn", ScaledFfn);

// A layer that owns its initialisation entirely.
class ZeroInitFfn : public SequenceLayer {
 public:
  ZeroInitFfn(const LayerContext& ctx, const nlohmann::json&) : proj(ctx.d_model, ctx.d_model) {
    register_module("proj", proj);
  }
  void reset_parameters(const InitScheme&, Generator&) override { proj.weight.mutable_data().fill(0.25f); }
  Variable forward(const Variable& x) override { return proj(x); }
  Linear proj;
};
TFM_REGISTER_LAYER("test-zero-init-ffn", ZeroInitFfn);

TEST(ParamRoles, ACustomLayerMarksItsResidualProjectionOrInitialisesItself) {
  LanguageModel lm(LmConfig::parse(tiny_lm({{"ffn", "test-scaled-ffn"}})));
  Generator gen(1);
  lm.reset_parameters(constant_scheme(), gen);
  EXPECT_EQ(parameter(lm, "blocks.0.ffn.proj.weight").at(0), 2.0f);  // residual, whatever its name
  EXPECT_EQ(parameter(lm, "blocks.0.ffn.scale").at(0), 0.5f);        // Other: as constructed

  LanguageModel own(LmConfig::parse(tiny_lm({{"ffn", "test-zero-init-ffn"}})));
  own.reset_parameters(constant_scheme(), gen);
  EXPECT_EQ(parameter(own, "blocks.1.ffn.proj.weight").at(4), 0.25f);
  EXPECT_NE(parameter(own, "blocks.1.ffn.proj.bias").at(0), 4.0f);  // its override left the bias as built
  EXPECT_EQ(parameter(own, "blocks.1.attn.q.weight").at(0), 1.0f);  // the rest still follows the scheme
}

TEST(ParamRoles, SetParameterRoleOfAnUnknownNameIsAnError) {
  Linear l(3, 2);
  EXPECT_CONTAINS(error_message([&] { l.set_parameter_role("wieght", ParamRole::ResidualWeight); }),
                  "set_parameter_role: no parameter \"wieght\" in this module (it has \"weight\", \"bias\")");
}

// GPT-2 / nanoGPT as documented: every 2-D parameter N(0, 0.02) except the
// projections into the residual stream (attn.out, ffn.fc2, ffn.down) at
// 0.02/√(2·n_layer); biases zero; norm gains one, norm biases zero. Drawn in
// named_parameters() order from the generator.
TEST(InitScheme, Gpt2MatchesItsDocumentedRuleDrawForDraw) {
  for (const char* ffn : {"feed_forward", "swiglu"}) {
    SCOPED_TRACE(ffn);
    LanguageModel lm(LmConfig::parse(tiny_lm({{"ffn", ffn}})));
    Generator g1(42), g2(42);
    lm.init_weights(g1);
    const double residual_std = 0.02 / std::sqrt(2.0 * 3);
    for (auto& [name, p] : lm.named_parameters()) {
      SCOPED_TRACE(name);
      std::vector<float> expected(static_cast<size_t>(p->numel()));
      const bool norm = name.starts_with("ln_f") || name.find(".ln") != std::string::npos;
      if (p->shape().ndim() == 2) {
        const bool residual = name.ends_with("attn.out.weight") || name.ends_with("ffn.fc2.weight") ||
                              name.ends_with("ffn.down.weight");
        fill_normal(expected.data(), p->numel(), 0.0f, static_cast<float>(residual ? residual_std : 0.02), g2);
      } else {
        std::fill(expected.begin(), expected.end(), norm && name.ends_with(".weight") ? 1.0f : 0.0f);
      }
      const float* got = p->data().data();
      for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "element " << i;
    }
  }
}

// The reference Transformer: embeddings N(0, d^-1/2), other 2-D weights
// Xavier-uniform U(±√(6/(fan_in + fan_out))), biases zero, norms identity.
TEST(InitScheme, XavierMatchesItsDocumentedRuleDrawForDraw) {
  const nlohmann::json config = {{"type", "transformer"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 8},
                                 {"d_ff", 12},           {"seq_len", 6}, {"vocab_size", 11},
                                 {"share_embeddings", false}, {"tie_embeddings", false}, {"norm_placement", "pre"}};
  EncoderDecoder model(TransformerConfig::parse(config));
  Generator g1(7), g2(7);
  model.init_weights(g1);
  for (auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    std::vector<float> expected(static_cast<size_t>(p->numel()));
    if (name.ends_with("emb.weight")) {
      fill_normal(expected.data(), p->numel(), 0.0f, 1.0f / std::sqrt(8.0f), g2);
    } else if (p->shape().ndim() == 2) {
      const float bound = std::sqrt(6.0f / static_cast<float>(p->dim(0) + p->dim(1)));
      fill_uniform(expected.data(), p->numel(), -bound, bound, g2);
    } else {
      const bool gain = name.find("ln") != std::string::npos && name.ends_with(".weight");
      std::fill(expected.begin(), expected.end(), gain ? 1.0f : 0.0f);
    }
    const float* got = p->data().data();
    for (size_t i = 0; i < expected.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "element " << i;
  }
}

}  // namespace
}  // namespace tfm
