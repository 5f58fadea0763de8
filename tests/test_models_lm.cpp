// models/lm: config messages, to_json, parameter names and shapes, whole-model gradchecks (pre/post-LN,
// tied/untied, local attention), causality, cached decoding, seeded init, train/eval and the dropout sites;
// the head slot (the default unchanged; the adaptive head's config, names, loss, gradients, decoding).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "models/lm.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

// The tiny model of the gradchecks: 2 layers, d_model 8, 2 heads, d_ff 16, seq_len 5, vocab 7.
nlohmann::json tiny(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"type", "lm"}, {"n_layer", 2},   {"n_head", 2},     {"d_model", 8},
                      {"d_ff", 16},   {"seq_len", 5},   {"vocab_size", 7}, {"dropout", 0.0}};
  j.update(overrides);
  return j;
}

// Non-trivial values for every parameter (init's N(0, 0.02) gives gradients too small to check).
void randomize(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    const bool ln_weight = name.find("ln") != std::string::npos && name.ends_with(".weight");
    fill_uniform(p->mutable_data().data(), p->numel(), ln_weight ? 0.5f : -0.6f, ln_weight ? 1.5f : 0.6f, gen);
  }
}

std::vector<Variable> parameters(const Module& m) {
  std::vector<Variable> out;
  for (auto& [name, p] : m.named_parameters()) out.push_back(*p);
  return out;
}

TEST(LmConfig, ValidationErrorsNameTheKeyAndValue) {
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"d_model", 10}, {"n_head", 3}})); }),
                  "model.d_model = 10 is not divisible by model.n_head = 3");
  const std::string act = error_message([] { LmConfig::parse(tiny({{"activation", "swish"}})); });
  EXPECT_CONTAINS(act, "model.activation");
  EXPECT_CONTAINS(act, "\"swish\" is not one of: gelu, gelu_tanh, relu");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"n_layer", 0}})); }),
                  "model.n_layer: 0 is out of range [1, 1024]");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"d_modle", 8}})); }),
                  "unknown key model.d_modle (did you mean model.d_model?)");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"n_head", "2"}})); }),
                  "model.n_head: expected an integer, found \"2\"");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"dropout", 1.5}})); }),
                  "model.dropout: 1.5 is out of range");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"norm", "middle"}})); }), "model.norm");
  const std::string ffn = error_message([] { LmConfig::parse(tiny({{"ffn", "feedforward"}})); });
  EXPECT_CONTAINS(ffn, "config: model.ffn: unknown layer \"feedforward\" (one of: ");
  EXPECT_CONTAINS(ffn, "(did you mean \"feed_forward\"?)");
  EXPECT_CONTAINS(error_message([] { LanguageModel m(LmConfig::parse(tiny({{"vocab_size", 0}}))); }),
                  "model.vocab_size must be set");
}

TEST(LmConfig, ToJsonHoldsEveryKeyAndRoundTrips) {
  const LmConfig c = LmConfig::parse(tiny({{"norm", "post"},
                                           {"tie_embeddings", false},
                                           {"attention_window", 3},
                                           {"activation", "relu"},
                                           {"layer_norm_eps", 1e-6}}));
  const nlohmann::json j = c.to_json();
  std::set<std::string> keys;
  for (auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"type", "n_layer", "n_head", "n_kv_head", "d_model", "d_ff", "seq_len",
                                         "vocab_size", "activation", "norm", "norm_placement", "pos_emb",
                                         "rope_theta", "bias", "tie_embeddings", "dropout", "embedding_dropout",
                                         "attention_dropout", "residual_dropout", "layer_norm_eps",
                                         "attention_window", "attention", "ffn"}));
  // The legacy "norm": "post" is written in the new form: a norm type and its placement.
  EXPECT_EQ(j["norm"], "layernorm");
  EXPECT_EQ(j["norm_placement"], "post");
  EXPECT_EQ(j["n_kv_head"], 2);
  EXPECT_EQ(j["pos_emb"], "learned");
  EXPECT_EQ(j["bias"], true);
  EXPECT_EQ(j["tie_embeddings"], false);
  EXPECT_EQ(j["attention_window"], 3);
  EXPECT_EQ(j["activation"], "relu");
  EXPECT_EQ(LmConfig::parse(j).to_json(), j);
  // Defaults are resolved: d_ff defaults to 4·d_model.
  nlohmann::json no_ff = tiny();
  no_ff.erase("d_ff");
  EXPECT_EQ(LmConfig::parse(no_ff).to_json()["d_ff"], 32);
}

TEST(LmModel, ParameterNamesAndShapesFollowTheCheckpointInterface) {
  for (bool tied : {true, false}) {
    SCOPED_TRACE(tied ? "tied" : "untied");
    LanguageModel model(LmConfig::parse(tiny({{"tie_embeddings", tied}})));
    std::map<std::string, Shape> expected{{"tok_emb.weight", {7, 8}}, {"pos_emb.weight", {5, 8}},
                                          {"ln_f.weight", {8}},       {"ln_f.bias", {8}}};
    for (int i = 0; i < 2; ++i) {
      const std::string b = "blocks." + std::to_string(i) + ".";
      for (const char* ln : {"ln1", "ln2"}) expected[b + ln + ".weight"] = expected[b + ln + ".bias"] = Shape{8};
      for (const char* p : {"q", "k", "v", "out"}) {
        expected[b + "attn." + p + ".weight"] = {8, 8};
        expected[b + "attn." + p + ".bias"] = {8};
      }
      expected[b + "ffn.fc1.weight"] = {16, 8};
      expected[b + "ffn.fc1.bias"] = {16};
      expected[b + "ffn.fc2.weight"] = {8, 16};
      expected[b + "ffn.fc2.bias"] = {8};
    }
    if (!tied) expected["head.weight"] = {7, 8};
    std::map<std::string, Shape> actual;
    for (auto& [name, p] : model.named_parameters()) EXPECT_TRUE(actual.emplace(name, p->shape()).second) << name;
    EXPECT_EQ(actual, expected);
    EXPECT_EQ(model.head->named_parameters().empty(), tied);
  }
}

// Whole-model gradcheck over every parameter: loss of a batch with one ignored target.
void check_lm_gradients(const nlohmann::json& config) {
  SCOPED_TRACE(config.dump());
  LanguageModel model(LmConfig::parse(config));
  randomize(model, 3);
  Batch batch;
  batch.input = random_ids({2, 5}, 7, 4);
  batch.target = random_ids({2, 5}, 7, 5);
  batch.target.data_i32()[3] = -100;
  GradcheckOptions opt;
  opt.atol = 3e-4;
  opt.max_elements = 60;
  EXPECT_GRADCHECK([&](const std::vector<Variable>&) { return model.loss(batch); }, parameters(model), opt);
}

TEST(LmModel, GradcheckPreNormTied) { check_lm_gradients(tiny()); }
TEST(LmModel, GradcheckPostNormUntied) { check_lm_gradients(tiny({{"norm", "post"}, {"tie_embeddings", false}})); }
TEST(LmModel, GradcheckLocalAttention) {
  check_lm_gradients(tiny({{"attention_window", 2}, {"tie_embeddings", false}}));
}

const nlohmann::json kAdaptive = {{"type", "adaptive"}, {"cutoffs", {3, 5}}, {"div_value", 2.0}, {"head_bias", true}};

TEST(LmHead, WithoutAHeadKeyOrWithTheLinearOneTheModelIsAsBefore) {
  const std::vector<nlohmann::json> heads{nullptr, "linear", {{"type", "linear"}}};
  for (bool tied : {true, false}) {
    std::vector<float> losses;
    for (const nlohmann::json& head : heads) {
      SCOPED_TRACE(head.dump());
      nlohmann::json config = tiny({{"tie_embeddings", tied}});
      if (!head.is_null()) config["head"] = head;
      const LmConfig c = LmConfig::parse(config);
      EXPECT_FALSE(c.to_json().contains("head")) << "configs of the default head are written as before";
      default_generator().set_state(5, 0);
      LanguageModel model(c);
      Batch batch;
      batch.input = random_ids({2, 5}, 7, 1);
      batch.target = random_ids({2, 5}, 7, 2);
      losses.push_back(model.loss(batch).item());
    }
    EXPECT_EQ(losses[1], losses[0]);
    EXPECT_EQ(losses[2], losses[0]);
  }
}

TEST(LmHead, AdaptiveHeadConfigDefaultsToUntiedAndRoundTrips) {
  const LmConfig c = LmConfig::parse(tiny({{"head", kAdaptive}}));
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.head.type, "adaptive");
  const nlohmann::json j = c.to_json();
  EXPECT_EQ(j["head"], kAdaptive);
  EXPECT_EQ(LmConfig::parse(j).to_json(), j);
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"head", kAdaptive}, {"tie_embeddings", true}})); }),
                  "config: model.tie_embeddings = true, but model.head \"adaptive\" cannot share the token embedding");
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"head", "adaptve"}})); }),
                  "config: model.head: unknown head \"adaptve\"");
  // The head's own options are checked when the model is built (they need the vocabulary).
  const nlohmann::json bad_cutoffs = {{"type", "adaptive"}, {"cutoffs", {3, 7}}};
  EXPECT_CONTAINS(error_message([&] { LanguageModel m(LmConfig::parse(tiny({{"head", bad_cutoffs}}))); }),
                  "model.head.cutoffs[1] = 7 is outside (0, vocab_size = 7)");
  LanguageModel model(c);
  std::map<std::string, Shape> head;
  for (auto& [name, p] : model.named_parameters())
    if (name.starts_with("head.") || name.starts_with("tok_emb")) head[name] = p->shape();
  EXPECT_EQ(head, (std::map<std::string, Shape>{{"tok_emb.weight", {7, 8}},
                                                {"head.head.weight", {5, 8}},
                                                {"head.head.bias", {5}},
                                                {"head.tail.0.0.weight", {4, 8}},
                                                {"head.tail.0.1.weight", {2, 4}},
                                                {"head.tail.1.0.weight", {2, 8}},
                                                {"head.tail.1.1.weight", {2, 2}}}));
}

TEST(LmHead, AdaptiveLossIsTheMeanNegativeLogProbabilityOfTheForward) {
  LanguageModel model(LmConfig::parse(tiny({{"head", kAdaptive}})));
  randomize(model, 11);
  Batch batch;
  batch.input = random_ids({2, 5}, 7, 12);
  batch.target = random_ids({2, 5}, 7, 13);
  batch.target.data_i32()[3] = -100;
  const Tensor log_probs = model.forward(batch.input).data();
  ASSERT_EQ(log_probs.shape(), Shape({2, 5, 7}));
  double nll = 0.0;
  for (int64_t r = 0; r < 10; ++r) {
    double total = 0.0;
    for (int64_t v = 0; v < 7; ++v) total += std::exp(double(log_probs.at(r * 7 + v)));
    EXPECT_NEAR(total, 1.0, 1e-5) << "row " << r;
    if (r != 3) nll -= log_probs.at(r * 7 + batch.target.data_i32()[r]);
  }
  EXPECT_NEAR(model.loss(batch).item(), nll / 9, 1e-6 * nll / 9);
  EXPECT_CONTAINS(error_message([&] { model.loss(batch, {.label_smoothing = 0.1f}); }),
                  "does not support label smoothing");
}

TEST(LmHead, GradcheckAdaptiveHead) { check_lm_gradients(tiny({{"head", kAdaptive}, {"norm", "post"}})); }

TEST(LmModel, LogitsAreCausal) {
  LanguageModel model(LmConfig::parse(tiny()));
  randomize(model, 6);
  Tensor ids = random_ids({1, 5}, 7, 7);
  const Tensor a = model.forward(ids).data().copy();
  ASSERT_EQ(a.shape(), Shape({1, 5, 7}));
  ids.data_i32()[4] = (ids.data_i32()[4] + 1) % 7;
  const Tensor b = model.forward(ids).data();
  for (int64_t i = 0; i < 4 * 7; ++i) ASSERT_EQ(a.at(i), b.at(i)) << "an earlier position saw the future";
  double diff = 0.0;
  for (int64_t i = 4 * 7; i < 5 * 7; ++i) diff += std::fabs(a.at(i) - b.at(i));
  EXPECT_GT(diff, 1e-4);
}

TEST(LmModel, CachedDecodingReproducesTheFullForward) {
  const std::vector<nlohmann::json> configs{tiny(), tiny({{"norm", "post"}, {"tie_embeddings", false}}),
                                            tiny({{"attention_window", 2}}), tiny({{"head", kAdaptive}})};
  for (const nlohmann::json& c : configs) {
    SCOPED_TRACE(c.dump());
    LanguageModel model(LmConfig::parse(c));
    randomize(model, 8);
    const Tensor ids = random_ids({2, 5}, 7, 9);
    const Tensor full = model.forward(ids).data();
    std::vector<KVCache> caches;
    for (int64_t t = 0; t < 5; ++t) {
      Tensor step = Tensor::empty({2, 1}, DType::I32);
      for (int64_t b = 0; b < 2; ++b) step.data_i32()[b] = ids.data_i32()[b * 5 + t];
      const Tensor logits = model.forward_cached(step, caches).data();
      ASSERT_EQ(logits.shape(), Shape({2, 1, 7}));
      for (int64_t b = 0; b < 2; ++b)
        expect_close(logits.data() + b * 7, full.data() + (b * 5 + t) * 7, 7, 1e-5f, 1e-5f);
    }
    Tensor one = Tensor::zeros({2, 1}, DType::I32);
    EXPECT_CONTAINS(error_message([&] { model.forward_cached(one, caches); }), "exceed model.seq_len = 5");
  }
}

bool same_parameters(const Module& a, const Module& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i)
    if (pa[i].first != pb[i].first || std::memcmp(pa[i].second->data().data(), pb[i].second->data().data(),
                                                  pa[i].second->data().nbytes()) != 0)
      return false;
  return true;
}

TEST(LmModel, SameSeedGivesBitwiseIdenticalInitialisation) {
  const LmConfig c = LmConfig::parse(tiny({{"tie_embeddings", false}}));
  default_generator().set_state(123, 0);
  LanguageModel a(c);
  default_generator().set_state(123, 0);
  LanguageModel b(c);
  default_generator().set_state(124, 0);
  LanguageModel other(c);
  EXPECT_TRUE(same_parameters(a, b));
  EXPECT_FALSE(same_parameters(a, other));
  Generator g1(9), g2(9);
  a.init_weights(g1);
  other.init_weights(g2);
  EXPECT_TRUE(same_parameters(a, other));
  // GPT-2 initialisation: LayerNorms at identity, zero biases.
  EXPECT_EQ(parameter(a, "ln_f.weight").at(3), 1.0f);
  EXPECT_EQ(parameter(a, "blocks.1.attn.q.bias").at(2), 0.0f);
  EXPECT_EQ(parameter(a, "blocks.0.ln2.bias").at(5), 0.0f);
}

TEST(LmModel, EvalDisablesEveryDropout) {
  LanguageModel model(LmConfig::parse(tiny({{"dropout", 0.3}})));
  randomize(model, 10);
  const Tensor ids = random_ids({2, 5}, 7, 11);
  model.eval();
  const Tensor a = model.forward(ids).data().copy();
  expect_close(model.forward(ids).data(), a, 0.0f);
  model.train();
  const Tensor b = model.forward(ids).data();
  double diff = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) diff += std::fabs(a.at(i) - b.at(i));
  EXPECT_GT(diff, 1e-3);
}

// model.dropout reaches every documented site (docs/config.md: embeddings, attention weights, residuals, FFN):
// a training forward draws exactly one mask per site, ⌈n/4⌉ Philox blocks for n elements (autograd/ops/dropout.h,
// core/kernels/attention.h), and evaluation or dropout 0 draw none.
TEST(LmModel, TrainingForwardDrawsOneMaskPerDocumentedDropoutSite) {
  const int64_t B = 2, T = 5, d = 8, d_ff = 16, H = 2, layers = 2;
  auto blocks = [](int64_t n) { return (n + 3) / 4; };
  const uint64_t per_layer = blocks(B * H * T * T) + 2 * blocks(B * T * d) + blocks(B * T * d_ff);
  const uint64_t expected = blocks(B * T * d) + layers * per_layer;
  const Tensor ids = random_ids({B, T}, 7, 12);
  for (double p : {0.3, 0.0})
    for (bool training : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "dropout " << p << (training ? " training" : " eval"));
      LanguageModel model(LmConfig::parse(tiny({{"dropout", p}})));
      if (training) model.train();
      else model.eval();
      default_generator().set_state(3, 0);
      model.forward(ids);
      EXPECT_EQ(default_generator().offset(), training && p > 0 ? expected : 0u);
    }
}

// The block's dropouts keep its expected output. With fc1's weights 0, a positive fc1 bias and relu, the FFN is
// fc2(dropout(relu(b1))), linear in its mask; attention is linear in its weight mask; the residual dropouts
// are linear too. So the mean over M masks of the training output is the evaluation output, element by
// element within 5 standard errors, and unscaled masks (bias −p·branch) would be far outside.
TEST(LmModel, BlockDropoutsKeepTheExpectedOutput) {
  const LmConfig c = LmConfig::parse(tiny({{"dropout", 0.3}, {"activation", "relu"}}));
  LmBlock block(c);
  randomize(block, 31);
  for (auto& [name, p] : block.named_parameters()) {
    if (name == "ffn.fc1.weight") std::fill_n(p->mutable_data().data(), p->numel(), 0.0f);
    if (name == "ffn.fc1.bias") fill_uniform(p->mutable_data().data(), p->numel(), 0.5f, 1.5f, default_generator());
  }
  NoGradGuard no_grad;
  const Variable x(random_tensor({2, 5, 8}, 32));
  block.eval();
  const Tensor expected = block.forward(x).data().copy();
  block.train();
  default_generator().set_state(33, 0);
  const int M = 3000;
  std::vector<double> sum(expected.numel(), 0.0), squares(expected.numel(), 0.0);
  for (int m = 0; m < M; ++m) {
    const Tensor y = block.forward(x).data();
    for (int64_t i = 0; i < y.numel(); ++i) sum[i] += y.at(i), squares[i] += static_cast<double>(y.at(i)) * y.at(i);
  }
  double worst_z = 0.0, sd_total = 0.0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double mean = sum[i] / M, sd = std::sqrt(std::max(0.0, squares[i] / M - mean * mean));
    worst_z = std::max(worst_z, std::fabs(mean - expected.at(i)) / (std::max(sd, 1e-6) / std::sqrt(double{M})));
    sd_total += sd;
  }
  EXPECT_LT(worst_z, 5.0);
  EXPECT_GT(sd_total, 1.0) << "the masks did not vary the output";
}

// Each site's key takes `dropout` as its default: a config or a checkpoint written before the keys
// existed (only "dropout") keeps its rate everywhere, and to_json writes the resolved rates.
TEST(LmConfig, DropoutSitesDefaultToDropoutAndOverrideOneByOne) {
  const LmConfig old = LmConfig::parse(tiny({{"dropout", 0.3}}));
  EXPECT_EQ(old.embedding_p(), 0.3);
  EXPECT_EQ(old.attention_p(), 0.3);
  EXPECT_EQ(old.residual_p(), 0.3);
  for (const char* key : {"embedding_dropout", "attention_dropout", "residual_dropout"})
    EXPECT_EQ(old.to_json()[key], 0.3) << key;
  const LmConfig c = LmConfig::parse(tiny({{"dropout", 0.3}, {"attention_dropout", 0.0}, {"residual_dropout", 0.2}}));
  EXPECT_EQ(c.embedding_p(), 0.3);
  EXPECT_EQ(c.attention_p(), 0.0);
  EXPECT_EQ(c.residual_p(), 0.2);
  EXPECT_EQ(LmConfig::parse(c.to_json()).to_json(), c.to_json());
  // A config built in C++ that sets dropout alone (the sites negative: follow it).
  LmConfig cpp;
  cpp.dropout = 0.25;
  EXPECT_EQ(cpp.attention_p(), 0.25);
  EXPECT_CONTAINS(error_message([] { LmConfig::parse(tiny({{"attention_dropout", 1.0}})); }),
                  "model.attention_dropout: 1 is out of range");
}

// Per site, the Philox blocks a training forward draws (as TrainingForwardDrawsOneMaskPerDocumentedDropoutSite):
// each key alone draws its own site's masks and no other's.
TEST(LmModel, EachDropoutKeyDrawsOnlyItsSitesMasks) {
  const int64_t B = 2, T = 5, d = 8, d_ff = 16, H = 2, layers = 2;
  auto blocks = [](int64_t n) { return static_cast<uint64_t>((n + 3) / 4); };
  const std::map<std::string, uint64_t> expected = {
      {"embedding_dropout", blocks(B * T * d)},
      {"attention_dropout", layers * blocks(B * H * T * T)},
      {"residual_dropout", layers * (2 * blocks(B * T * d) + blocks(B * T * d_ff))}};
  const Tensor ids = random_ids({B, T}, 7, 12);
  for (const auto& [key, n] : expected) {
    LanguageModel model(LmConfig::parse(tiny({{key, 0.3}})));
    default_generator().set_state(3, 0);
    model.forward(ids);
    EXPECT_EQ(default_generator().offset(), n) << key;
  }
}

// One site's dropout acts only through its modules: in training mode, switching every other module to eval
// changes nothing (bitwise, same masks), and switching the site's own modules to eval gives the eval output.
TEST(LmModel, EachDropoutKeyActsOnlyThroughItsOwnModules) {
  const Tensor ids = random_ids({2, 5}, 7, 13);
  auto output = [&](LanguageModel& m) {
    default_generator().set_state(5, 0);
    return m.forward(ids).data().copy();
  };
  auto differs = [](const Tensor& a, const Tensor& b) { return std::memcmp(a.data(), b.data(), a.nbytes()) != 0; };
  {
    LanguageModel m(LmConfig::parse(tiny({{"attention_dropout", 0.3}})));
    randomize(m, 20);
    m.eval();
    const Tensor eval = output(m);
    m.train();
    const Tensor train = output(m);
    EXPECT_TRUE(differs(train, eval));
    m.eval();
    for (auto& b : m.blocks) b->attn->train();
    expect_close(output(m), train, 0.0f);  // only the attention layers in training mode
    m.train();
    for (auto& b : m.blocks) b->attn->eval();
    expect_close(output(m), eval, 0.0f);
  }
  {
    LanguageModel m(LmConfig::parse(tiny({{"residual_dropout", 0.3}})));
    randomize(m, 21);
    m.eval();
    const Tensor eval = output(m);
    m.train();
    const Tensor train = output(m);
    EXPECT_TRUE(differs(train, eval));
    for (auto& b : m.blocks) b->attn->eval();
    expect_close(output(m), train, 0.0f);  // attention has no dropout
    for (auto& b : m.blocks) b->ffn->eval();
    EXPECT_TRUE(differs(output(m), eval));  // the residual dropout itself, beside the FFN's inner one
    for (auto& b : m.blocks) b->eval();
    expect_close(output(m), eval, 0.0f);  // nothing outside the blocks
  }
  {
    LanguageModel m(LmConfig::parse(tiny({{"embedding_dropout", 0.3}})));
    randomize(m, 22);
    m.eval();
    const Tensor eval = output(m);
    m.train();
    const Tensor train = output(m);
    EXPECT_TRUE(differs(train, eval));
    for (auto& b : m.blocks) b->eval();
    expect_close(output(m), train, 0.0f);  // the blocks draw nothing
  }
}

// The three keys at the old single rate are the old model, bitwise: same masks in the same order.
TEST(LmModel, SiteKeysAtOneRateEqualTheSingleDropoutKey) {
  const Tensor ids = random_ids({2, 5}, 7, 14);
  auto training_output = [&](const nlohmann::json& config) {
    LanguageModel m(LmConfig::parse(config));
    randomize(m, 23);
    default_generator().set_state(7, 0);
    return m.forward(ids).data().copy();
  };
  const Tensor single = training_output(tiny({{"dropout", 0.3}}));
  const Tensor sites = training_output(
      tiny({{"dropout", 0.0}, {"embedding_dropout", 0.3}, {"attention_dropout", 0.3}, {"residual_dropout", 0.3}}));
  expect_close(sites, single, 0.0f);
  const Tensor other = training_output(tiny({{"dropout", 0.3}, {"attention_dropout", 0.1}}));
  EXPECT_NE(std::memcmp(other.data(), single.data(), single.nbytes()), 0);
}

TEST(LmModel, RegistryCreatesByTypeAndForwardValidatesIds) {
  std::unique_ptr<Model> m = ModelRegistry::create(tiny());
  ASSERT_NE(dynamic_cast<LanguageModel*>(m.get()), nullptr);
  EXPECT_EQ(m->type(), "lm");
  EXPECT_EQ(m->vocab_size(), 7);
  EXPECT_EQ(m->max_len(), 5);
  EXPECT_EQ(m->config(), LmConfig::parse(tiny()).to_json());
  EXPECT_CONTAINS(error_message([] { ModelRegistry::create(tiny({{"type", "lmm"}})); }),
                  "unknown model type \"lmm\"");
  nlohmann::json untyped = tiny();
  untyped.erase("type");
  EXPECT_CONTAINS(error_message([&] { ModelRegistry::create(untyped); }), "model.type is missing");
  auto& lm = dynamic_cast<LanguageModel&>(*m);
  EXPECT_CONTAINS(error_message([&] { lm.forward(random_ids({1, 6}, 7, 1)); }), "exceeds model.seq_len = 5");
  EXPECT_CONTAINS(error_message([&] { lm.forward(random_tensor({1, 5}, 1)); }), "ids must be I32");
}

}  // namespace
}  // namespace tfm

namespace tfm {
namespace {
// A model registered from outside models/ (as a user's would be) declares its data.
TFM_REGISTER_MODEL("test-parallel-model", [](const nlohmann::json&) -> std::unique_ptr<Model> { return nullptr; },
                   DataKind::Parallel);

TEST(ModelRegistry, EachTypeDeclaresTheDataItTrainsOn) {
  EXPECT_EQ(ModelRegistry::data_kind("lm"), DataKind::Text);
  EXPECT_EQ(ModelRegistry::data_kind("transformer"), DataKind::Parallel);
  EXPECT_EQ(ModelRegistry::data_kind("rnn-attention"), DataKind::Parallel);
  EXPECT_EQ(ModelRegistry::types(DataKind::Text), std::vector<std::string>{"lm"});
  EXPECT_EQ(ModelRegistry::types(DataKind::Parallel),
            (std::vector<std::string>{"rnn-attention", "test-parallel-model", "transformer"}));
  EXPECT_STREQ(data_kind_name(DataKind::Parallel), "parallel");
  EXPECT_CONTAINS(error_message([] { ModelRegistry::data_kind("transfomer"); }),
                  "unknown model type \"transfomer\" (one of: lm, rnn-attention, test-parallel-model, transformer) "
                  "(did you mean \"transformer\"?)");
}
}  // namespace
}  // namespace tfm
