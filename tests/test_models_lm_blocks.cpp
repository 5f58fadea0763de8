// models/lm with the modern blocks: the config migration of "norm" (type, and
// the legacy placement values beside norm_placement), validation messages of
// the new keys, to_json, parameter names and shapes per variant, whole-model
// gradchecks, causality and cached decoding (rotary positions at their absolute
// offsets, grouped-query caches) against the full forward.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "layers/swiglu.h"
#include "models/lm.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

nlohmann::json tiny(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"type", "lm"}, {"n_layer", 2},   {"n_head", 4},     {"d_model", 8},
                      {"d_ff", 12},   {"seq_len", 6},   {"vocab_size", 7}, {"dropout", 0.0}};
  j.update(overrides);
  return j;
}

// Everything modern at once: RMSNorm, RoPE, SwiGLU, 2 key/value heads for 4 query heads, no biases.
nlohmann::json modern(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = tiny({{"norm", "rmsnorm"}, {"pos_emb", "rope"}, {"ffn", "swiglu"}, {"n_kv_head", 2},
                           {"bias", false}, {"rope_theta", 100.0}});
  j.update(overrides);
  return j;
}

void randomize(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    const bool ln_weight = name.find("ln") != std::string::npos && name.ends_with(".weight");
    fill_uniform(p->mutable_data().data(), p->numel(), ln_weight ? 0.5f : -0.6f, ln_weight ? 1.5f : 0.6f, gen);
  }
}

TEST(LmBlocksConfig, LegacyNormPlacementStillLoadsAndNewKeysSelectTypeAndPlacement) {
  EXPECT_FALSE(LmConfig::parse(tiny({{"norm", "post"}})).pre_norm);
  EXPECT_TRUE(LmConfig::parse(tiny({{"norm", "pre"}})).pre_norm);
  EXPECT_EQ(LmConfig::parse(tiny({{"norm", "post"}})).norm.type, "layernorm");
  const LmConfig c = LmConfig::parse(tiny({{"norm", "rmsnorm"}, {"norm_placement", "post"}}));
  EXPECT_EQ(c.norm.type, "rmsnorm");
  EXPECT_FALSE(c.pre_norm);
  const LmConfig o = LmConfig::parse(tiny({{"norm", {{"type", "rmsnorm"}, {"eps", 1e-6}}}}));
  EXPECT_EQ(o.norm.type, "rmsnorm");
  EXPECT_EQ(o.layer_norm_eps, 1e-6);
  EXPECT_TRUE(o.pre_norm);
  // Agreeing legacy and new spellings are fine; a conflict names both keys.
  EXPECT_FALSE(LmConfig::parse(tiny({{"norm", "post"}, {"norm_placement", "post"}})).pre_norm);
  const std::string conflict =
      error_message([] { LmConfig::parse(tiny({{"norm", "post"}, {"norm_placement", "pre"}})); });
  EXPECT_CONTAINS(conflict, "model.norm = \"post\"");
  EXPECT_CONTAINS(conflict, "conflicts with model.norm_placement = \"pre\"");
}

TEST(LmBlocksConfig, AConfigWrittenBeforeTheNewKeysLoadsAsBefore) {
  // The model section of a run's config.json from before norm types, pos_emb, n_kv_head and bias.
  const nlohmann::json old = {{"type", "lm"}, {"n_layer", 2}, {"n_head", 2}, {"d_model", 8}, {"d_ff", 16},
                              {"seq_len", 5}, {"vocab_size", 7}, {"activation", "gelu"}, {"norm", "post"},
                              {"tie_embeddings", true}, {"dropout", 0.0}, {"layer_norm_eps", 1e-5},
                              {"attention_window", 0}, {"ffn", "feed_forward"}};
  const LmConfig c = LmConfig::parse(old);
  EXPECT_FALSE(c.pre_norm);
  EXPECT_EQ(c.norm.type, "layernorm");
  EXPECT_EQ(c.pos_emb, PositionEncoding::Learned);
  EXPECT_EQ(c.n_kv_head, 2);
  EXPECT_TRUE(c.bias);
  const nlohmann::json j = c.to_json();
  EXPECT_EQ(j["norm"], "layernorm");
  EXPECT_EQ(j["norm_placement"], "post");
  EXPECT_EQ(LmConfig::parse(j).to_json(), j);
}

TEST(LmBlocksConfig, InvalidValuesNameTheKeyWhatWasExpectedAndWhatWasFound) {
  const std::string norm = error_message([] { LmConfig::parse(tiny({{"norm", "rms"}})); });
  EXPECT_CONTAINS(norm, "model.norm: unknown norm \"rms\" (one of: layernorm, rmsnorm)");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"norm", {{"type", "batchnorm"}}}})); }),
                  "model.norm: unknown norm \"batchnorm\" (one of: layernorm, rmsnorm)");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"norm", {{"type", "rmsnorm"}, {"epsilon", 1}}}})); }),
                  "unknown key model.norm.epsilon (norm \"rmsnorm\" takes: eps)");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"norm", 3}})); }), "model.norm: expected");
  EXPECT_CONTAINS(error_message([] {
                    LmConfig::parse(tiny({{"norm", {{"type", "rmsnorm"}, {"eps", 1e-6}}}, {"layer_norm_eps", 1e-5}}));
                  }),
                  "model.norm.eps = 1e-06 conflicts with model.layer_norm_eps = 1e-05");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"norm_placement", "middle"}})); }),
                  "model.norm_placement: \"middle\" is not one of: pre, post");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"pos_emb", "alibi"}})); }),
                  "model.pos_emb: \"alibi\" is not one of: learned, sinusoidal, rope, none");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"n_kv_head", 3}})); }),
                  "model.n_kv_head = 3 does not divide model.n_head = 4");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"bias", "no"}})); }), "model.bias");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"pos_emb", "rope"}, {"n_head", 8}})); }),
                  "model.pos_emb = \"rope\" needs an even head size model.d_model / model.n_head, found 8 / 8 = 1");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"rope_theta", 1.0}})); }), "model.rope_theta");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"ffn", "swiglue"}})); }), "did you mean \"swiglu\"?");
}

TEST(LmBlocksConfig, ToJsonWritesTheNewFormAndRoundTrips) {
  const nlohmann::json j = LmConfig::parse(modern({{"norm_placement", "post"}})).to_json();
  EXPECT_EQ(j["norm"], "rmsnorm");
  EXPECT_EQ(j["norm_placement"], "post");
  EXPECT_EQ(j["pos_emb"], "rope");
  EXPECT_EQ(j["rope_theta"], 100.0);
  EXPECT_EQ(j["n_kv_head"], 2);
  EXPECT_EQ(j["bias"], false);
  EXPECT_EQ(j["ffn"], "swiglu");  // a slot without options is written as its name
  EXPECT_EQ(LmConfig::parse(j).to_json(), j);
}

TEST(LmBlocksModel, ParameterNamesAndShapesOfTheModernBlocks) {
  LanguageModel model(LmConfig::parse(modern({{"tie_embeddings", false}})));
  std::map<std::string, Shape> expected{{"tok_emb.weight", {7, 8}}, {"ln_f.weight", {8}}, {"head.weight", {7, 8}}};
  for (int i = 0; i < 2; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    expected[b + "ln1.weight"] = expected[b + "ln2.weight"] = Shape{8};
    expected[b + "attn.q.weight"] = expected[b + "attn.out.weight"] = Shape{8, 8};
    expected[b + "attn.k.weight"] = expected[b + "attn.v.weight"] = Shape{4, 8};  // 2 kv heads of 2
    expected[b + "ffn.gate.weight"] = expected[b + "ffn.up.weight"] = Shape{12, 8};
    expected[b + "ffn.down.weight"] = Shape{8, 12};
  }
  std::map<std::string, Shape> actual;
  for (auto& [name, p] : model.named_parameters()) actual.emplace(name, p->shape());
  EXPECT_EQ(actual, expected);
  EXPECT_NE(dynamic_cast<SwiGLU*>(model.blocks[0]->ffn.get()), nullptr);
  EXPECT_EQ(dynamic_cast<const Norm&>(*model.blocks[0]->ln1).type(), NormType::RmsNorm);
  // Learned positions keep their tensor; the other encodings have none.
  for (const char* pos : {"learned", "sinusoidal", "rope", "none"}) {
    LanguageModel m(LmConfig::parse(tiny({{"pos_emb", pos}})));
    bool has = false;
    for (auto& [name, p] : m.named_parameters()) has = has || name == "pos_emb.weight";
    EXPECT_EQ(has, std::string(pos) == "learned") << pos;
  }
  // bias true with rmsnorm: the norms get a bias too.
  LanguageModel biased(LmConfig::parse(tiny({{"norm", "rmsnorm"}})));
  EXPECT_TRUE(dynamic_cast<const Norm&>(*biased.ln_f).bias.defined());
}

// step: the central difference's h; the modern blocks (SwiGLU's product of two
// projections, no biases) curve more than the classic ones, and at the default
// h = 1e-2 the truncation error O(h²) alone reaches 1% (it falls as h² at 3e-3,
// so it is not a wrong gradient).
void check_gradients(const nlohmann::json& config, double step = 3e-3) {
  SCOPED_TRACE(config.dump());
  LanguageModel model(LmConfig::parse(config));
  randomize(model, 3);
  Batch batch;
  batch.input = random_ids({2, 6}, 7, 4);
  batch.target = random_ids({2, 6}, 7, 5);
  batch.target.data_i32()[3] = -100;
  std::vector<Variable> params;
  for (auto& [name, p] : model.named_parameters()) params.push_back(*p);
  GradcheckOptions opt;
  opt.atol = 3e-4;
  opt.max_elements = 60;
  opt.step = step;
  EXPECT_GRADCHECK([&](const std::vector<Variable>&) { return model.loss(batch); }, params, opt);
}

TEST(LmBlocksModel, GradcheckModernPreNorm) { check_gradients(modern()); }
TEST(LmBlocksModel, GradcheckRmsNormPostNormSinusoidalWithBiases) {
  check_gradients(tiny({{"norm", "rmsnorm"}, {"norm_placement", "post"}, {"pos_emb", "sinusoidal"},
                        {"tie_embeddings", false}, {"layer_norm_eps", 0.1}}));
}
TEST(LmBlocksModel, GradcheckMultiQueryLocalRopeNoPositionsSwiGLU) {
  check_gradients(tiny({{"n_kv_head", 1}, {"attention_window", 2}, {"pos_emb", "rope"}, {"ffn", "swiglu"}}));
  check_gradients(tiny({{"pos_emb", "none"}, {"bias", false}}));
}

TEST(LmBlocksModel, LogitsAreCausalWithRope) {
  LanguageModel model(LmConfig::parse(modern()));
  randomize(model, 6);
  Tensor ids = random_ids({1, 6}, 7, 7);
  const Tensor a = model.forward(ids).data().copy();
  ids.data_i32()[5] = (ids.data_i32()[5] + 1) % 7;
  const Tensor b = model.forward(ids).data();
  for (int64_t i = 0; i < 5 * 7; ++i) ASSERT_EQ(a.at(i), b.at(i)) << "an earlier position saw the future";
  double diff = 0.0;
  for (int64_t i = 5 * 7; i < 6 * 7; ++i) diff += std::fabs(a.at(i) - b.at(i));
  EXPECT_GT(diff, 1e-4);
}

TEST(LmBlocksModel, CachedDecodingLogitsEqualTheFullForward) {
  const std::vector<nlohmann::json> configs{modern(), modern({{"attention_window", 3}, {"norm_placement", "post"}}),
                                            tiny({{"pos_emb", "sinusoidal"}, {"n_kv_head", 1}}),
                                            tiny({{"pos_emb", "none"}, {"norm", "rmsnorm"}})};
  for (const nlohmann::json& c : configs) {
    SCOPED_TRACE(c.dump());
    LanguageModel model(LmConfig::parse(c));
    randomize(model, 8);
    const Tensor ids = random_ids({2, 6}, 7, 9);
    const Tensor full = model.forward(ids).data();
    // A prompt of 2 tokens, then one token at a time, as tfm generate decodes.
    std::vector<KVCache> caches;
    Tensor prompt = Tensor::empty({2, 2}, DType::I32);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < 2; ++t) prompt.data_i32()[b * 2 + t] = ids.data_i32()[b * 6 + t];
    const Tensor first = model.forward_cached(prompt, caches).data();
    for (int64_t b = 0; b < 2; ++b) expect_close(first.data() + b * 2 * 7, full.data() + b * 6 * 7, 2 * 7, 1e-5f);
    for (int64_t t = 2; t < 6; ++t) {
      Tensor step = Tensor::empty({2, 1}, DType::I32);
      for (int64_t b = 0; b < 2; ++b) step.data_i32()[b] = ids.data_i32()[b * 6 + t];
      const Tensor logits = model.forward_cached(step, caches).data();
      for (int64_t b = 0; b < 2; ++b)
        expect_close(logits.data() + b * 7, full.data() + (b * 6 + t) * 7, 7, 1e-5f, 1e-5f);
    }
  }
}

}  // namespace
}  // namespace tfm
