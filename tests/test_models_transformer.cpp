// models/transformer: the Vaswani et al. encoder-decoder. Config validation,
// to_json, the public parameter names, whole-model gradchecks with a source
// padding mask and ignored targets, incremental decoding against the full
// decoder, greedy decoding, padding invariance and seeded initialisation; the
// output-head slot ("linear" as before, the adaptive softmax head).
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "models/transformer.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr int64_t kVocab = 7, kSource = 6, kTarget = 5;

nlohmann::json tiny(const nlohmann::json& overrides = nlohmann::json::object()) {
  nlohmann::json j = {{"type", "transformer"}, {"n_encoder_layers", 2}, {"n_decoder_layers", 2}, {"n_head", 2},
                      {"d_model", 8},          {"d_ff", 16},            {"seq_len", 6},          {"vocab_size", kVocab},
                      {"dropout", 0.0},        {"activation", "gelu"}};
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

// Batch entry 1 has its last two source positions padded.
Tensor source_padding() {
  Tensor t = Tensor::zeros({2, kSource}, DType::I32);
  t.data_i32()[kSource + 4] = t.data_i32()[kSource + 5] = 1;
  return t;
}

Tensor column(const Tensor& ids, int64_t t) {
  const int64_t B = ids.dim(0), T = ids.dim(1);
  Tensor out = Tensor::empty({B, 1}, DType::I32);
  for (int64_t b = 0; b < B; ++b) out.data_i32()[b] = ids.data_i32()[b * T + t];
  return out;
}

TEST(TransformerConfigParse, ValidationErrorsNameTheKeyAndValue) {
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"d_model", 10}, {"n_head", 4}})); }),
                  "model.d_model = 10 is not divisible by model.n_head = 4");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"activation", "tanh"}})); }),
                  "model.activation: \"tanh\" is not one of: gelu, gelu_tanh, relu");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"n_decoder_layers", 0}})); }),
                  "model.n_decoder_layers: 0 is out of range [1, 1024]");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"n_heads", 2}})); }),
                  "unknown key model.n_heads (did you mean model.n_head?)");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"ffn", "nope"}})); }),
                  "model.ffn: unknown layer \"nope\"");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"share_embeddings", 1}})); }),
                  "model.share_embeddings: expected true or false, found 1");
}

TEST(TransformerConfigParse, ToJsonHoldsEveryKeyAndRoundTrips) {
  nlohmann::json in = tiny({{"norm", "pre"}, {"share_embeddings", false}, {"tie_embeddings", false}});
  in.erase("n_encoder_layers");
  in.erase("n_decoder_layers");
  in["n_layer"] = 3;  // sets both stacks
  const TransformerConfig c = TransformerConfig::parse(in);
  EXPECT_EQ(c.n_encoder_layers, 3);
  EXPECT_EQ(c.n_decoder_layers, 3);
  const nlohmann::json j = c.to_json();
  std::set<std::string> keys;
  for (auto& [k, v] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"type", "n_encoder_layers", "n_decoder_layers", "n_head", "d_model", "d_ff",
                                         "seq_len", "vocab_size", "activation", "norm", "norm_placement",
                                         "share_embeddings", "tie_embeddings", "dropout", "embedding_dropout",
                                         "attention_dropout", "residual_dropout", "layer_norm_eps", "attention",
                                         "ffn"}));
  // The legacy "norm": "pre" is written back as the placement, beside the norm type.
  EXPECT_EQ(j["norm"], "layernorm");
  EXPECT_EQ(j["norm_placement"], "pre");
  EXPECT_EQ(j["share_embeddings"], false);
  EXPECT_EQ(TransformerConfig::parse(j).to_json(), j);
  // Vaswani defaults: post-LN, ReLU, dropout 0.1.
  const nlohmann::json d = TransformerConfig::parse({{"type", "transformer"}, {"vocab_size", 5}}).to_json();
  EXPECT_EQ(d["norm"], "layernorm");
  EXPECT_EQ(d["norm_placement"], "post");
  EXPECT_EQ(d["attention"], "multi_head");
  EXPECT_EQ(d["activation"], "relu");
  EXPECT_NEAR(d["dropout"].get<double>(), 0.1, 1e-7);
  // The sites follow dropout unless given (a config or checkpoint from before the keys keeps its one rate).
  EXPECT_EQ(d["attention_dropout"], d["dropout"]);
  const TransformerConfig sites = TransformerConfig::parse(tiny({{"dropout", 0.2}, {"residual_dropout", 0.05}}));
  EXPECT_EQ(sites.embedding_p(), 0.2);
  EXPECT_EQ(sites.attention_p(), 0.2);
  EXPECT_EQ(sites.residual_p(), 0.05);
}

// Per site, the Philox blocks a training loss pass draws: each key alone draws only its own site's masks
// (encoder: embeddings, self-attention, 2 residuals and the FFN's hidden layer per layer; decoder: embeddings,
// self- and cross-attention, 3 residuals and the FFN's hidden layer per layer). All three at one rate draw
// what the single key does.
TEST(TransformerModel, EachDropoutKeyDrawsOnlyItsSitesMasks) {
  const int64_t B = 2, S = kSource, T = kTarget, d = 8, d_ff = 16, H = 2, L = 2;
  auto blocks = [](int64_t n) { return static_cast<uint64_t>((n + 3) / 4); };
  const std::map<std::string, uint64_t> expected = {
      {"embedding_dropout", blocks(B * S * d) + blocks(B * T * d)},
      {"attention_dropout", L * (blocks(B * H * S * S) + blocks(B * H * T * T) + blocks(B * H * T * S))},
      {"residual_dropout",
       L * (2 * blocks(B * S * d) + blocks(B * S * d_ff)) + L * (3 * blocks(B * T * d) + blocks(B * T * d_ff))}};
  Batch batch;
  batch.source = random_ids({B, S}, kVocab, 3);
  batch.input = batch.target = random_ids({B, T}, kVocab, 4);
  uint64_t total = 0;
  for (const auto& [key, n] : expected) {
    EncoderDecoder model(TransformerConfig::parse(tiny({{key, 0.3}})));
    default_generator().set_state(3, 0);
    model.loss(batch);
    EXPECT_EQ(default_generator().offset(), n) << key;
    total += n;
  }
  EncoderDecoder single(TransformerConfig::parse(tiny({{"dropout", 0.3}})));
  default_generator().set_state(3, 0);
  single.loss(batch);
  EXPECT_EQ(default_generator().offset(), total);
}

// A feed-forward replacement registered from a test, as a user's would be: the
// identity, keeping the options it was built with.
class OptionsFfn : public SequenceLayer {
 public:
  OptionsFfn(const LayerContext& context, const nlohmann::json& options) : d_model(context.d_model), options(options) {}
  Variable forward(const Variable& x) override { return x; }
  int64_t d_model;
  nlohmann::json options;
};
TFM_REGISTER_LAYER("test-options-ffn", OptionsFfn);

TEST(TransformerConfigParse, FfnIsALayerNameOrATypeWithOptions) {
  // The old form: a name, written back as a name.
  const TransformerConfig named = TransformerConfig::parse(tiny({{"ffn", "feed_forward"}}));
  EXPECT_EQ(named.ffn.type, "feed_forward");
  EXPECT_TRUE(named.ffn.options.empty());
  EXPECT_EQ(named.to_json()["ffn"], "feed_forward");
  EXPECT_EQ(TransformerConfig::parse(tiny()).to_json()["ffn"], "feed_forward");
  // {"type", ...options}, as the LM takes it: the options reach every block's layer and round-trip.
  const nlohmann::json slot = {{"type", "test-options-ffn"}, {"hidden", 12}, {"gate", "relu"}};
  const TransformerConfig c = TransformerConfig::parse(tiny({{"ffn", slot}}));
  EXPECT_EQ(c.ffn.type, "test-options-ffn");
  EXPECT_EQ(c.ffn.options, nlohmann::json({{"hidden", 12}, {"gate", "relu"}}));
  EXPECT_EQ(c.to_json()["ffn"], slot);
  EXPECT_EQ(TransformerConfig::parse(c.to_json()).to_json(), c.to_json());
  EncoderDecoder model(c);
  for (const auto* layer : {model.encoder.layers[1]->ffn.get(), model.decoder.layers[0]->ffn.get()}) {
    const auto* ffn = dynamic_cast<const OptionsFfn*>(layer);
    ASSERT_NE(ffn, nullptr);
    EXPECT_EQ(ffn->options, c.ffn.options);
    EXPECT_EQ(ffn->d_model, 8);
  }
  // A type alone is the name.
  EXPECT_EQ(TransformerConfig::parse(tiny({{"ffn", {{"type", "feed_forward"}}}})).to_json()["ffn"], "feed_forward");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"ffn", {{"hidden", 12}}}})); }),
                  "config: model.ffn: expected {\"type\": NAME, ...}, found {\"hidden\":12}");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"ffn", 3}})); }),
                  "config: model.ffn: expected a layer name or {\"type\": NAME, ...}, found 3");
  EXPECT_CONTAINS(error_message([] { TransformerConfig::parse(tiny({{"ffn", {{"type", "feed_forwrd"}}}})); }),
                  "(did you mean \"feed_forward\"?)");
  EXPECT_CONTAINS(error_message([] { EncoderDecoder m(TransformerConfig::parse(tiny({{"ffn", {{"type", "feed_forward"}, {"x", 1}}}}))); }),
                  "layer \"feed_forward\" takes no options");
}

std::map<std::string, Shape> expected_names(bool shared, bool tied, bool pre_norm) {
  std::map<std::string, Shape> e;
  const Shape emb{kVocab, 8}, vec{8}, mat{8, 8};
  if (shared) e["emb.weight"] = emb;
  else e["src_emb.weight"] = e["tgt_emb.weight"] = emb;
  if (!tied) e["head.weight"] = emb;
  auto attention = [&](const std::string& prefix) {
    for (const char* p : {"q", "k", "v", "out"}) e[prefix + p + ".weight"] = mat, e[prefix + p + ".bias"] = vec;
  };
  auto layer_norm = [&](const std::string& prefix) { e[prefix + ".weight"] = e[prefix + ".bias"] = vec; };
  auto ffn = [&](const std::string& prefix) {
    e[prefix + "fc1.weight"] = {16, 8}, e[prefix + "fc1.bias"] = {16};
    e[prefix + "fc2.weight"] = {8, 16}, e[prefix + "fc2.bias"] = vec;
  };
  for (int i = 0; i < 2; ++i) {
    const std::string enc = "encoder.layers." + std::to_string(i) + ".";
    const std::string dec = "decoder.layers." + std::to_string(i) + ".";
    attention(enc + "self_attn.");
    layer_norm(enc + "ln1");
    ffn(enc + "ffn.");
    layer_norm(enc + "ln2");
    attention(dec + "self_attn.");
    layer_norm(dec + "ln1");
    attention(dec + "cross_attn.");
    layer_norm(dec + "ln2");
    ffn(dec + "ffn.");
    layer_norm(dec + "ln3");
  }
  if (pre_norm) layer_norm("encoder.ln_f"), layer_norm("decoder.ln_f");
  return e;
}

TEST(TransformerModel, ParameterNamesFollowTheCheckpointInterface) {
  for (bool shared : {true, false})
    for (bool tied : {true, false})
      for (bool pre : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "shared=" << shared << " tied=" << tied << " pre_norm=" << pre);
        EncoderDecoder model(TransformerConfig::parse(
            tiny({{"share_embeddings", shared}, {"tie_embeddings", tied}, {"norm", pre ? "pre" : "post"}})));
        std::map<std::string, Shape> actual;
        for (auto& [name, p] : model.named_parameters()) EXPECT_TRUE(actual.emplace(name, p->shape()).second) << name;
        EXPECT_EQ(actual, expected_names(shared, tied, pre));
      }
}

void check_transformer_gradients(const nlohmann::json& config) {
  SCOPED_TRACE(config.dump());
  EncoderDecoder model(TransformerConfig::parse(config));
  randomize(model, 1);
  Batch batch;
  batch.source = random_ids({2, kSource}, kVocab, 2);
  batch.source_padding = source_padding();
  batch.input = random_ids({2, kTarget}, kVocab, 3);
  batch.target = random_ids({2, kTarget}, kVocab, 4);
  batch.target.data_i32()[kTarget + 3] = batch.target.data_i32()[kTarget + 4] = -100;  // padded targets
  std::vector<Variable> params;
  for (auto& [name, p] : model.named_parameters()) params.push_back(*p);
  GradcheckOptions opt;
  opt.atol = 3e-4;
  opt.max_elements = 40;
  EXPECT_GRADCHECK([&](const std::vector<Variable>&) { return model.loss(batch); }, params, opt);
}

TEST(TransformerModel, GradcheckPostNormSharedTied) { check_transformer_gradients(tiny()); }
TEST(TransformerModel, GradcheckPreNormSeparateEmbeddings) {
  check_transformer_gradients(tiny({{"norm", "pre"}, {"share_embeddings", false}, {"tie_embeddings", false}}));
}

const nlohmann::json kAdaptive = {{"type", "adaptive"}, {"cutoffs", {3, 5}}, {"div_value", 2.0}};

TEST(TransformerModel, GradcheckAdaptiveHead) {
  check_transformer_gradients(tiny({{"norm", "pre"}, {"head", kAdaptive}}));
}

TEST(TransformerHead, LinearIsTheDefaultAndAdaptiveScoresNormalisedLogProbabilities) {
  EXPECT_FALSE(TransformerConfig::parse(tiny({{"head", "linear"}})).to_json().contains("head"));
  const TransformerConfig c = TransformerConfig::parse(tiny({{"head", kAdaptive}}));
  EXPECT_FALSE(c.tie_embeddings);
  EXPECT_EQ(c.to_json()["head"], kAdaptive);
  EXPECT_CONTAINS(
      error_message([] { TransformerConfig::parse(tiny({{"head", kAdaptive}, {"tie_embeddings", true}})); }),
                  "cannot share the token embedding: set model.tie_embeddings to false");
  EncoderDecoder model(c);
  EXPECT_EQ(model.head->named_parameters().size(), 5u);  // head.weight, tail.{0,1}.{0,1}.weight
  randomize(model, 31);
  model.eval();
  Batch batch;
  batch.source = random_ids({2, kSource}, kVocab, 32);
  batch.source_padding = source_padding();
  batch.input = random_ids({2, kTarget}, kVocab, 33);
  batch.target = random_ids({2, kTarget}, kVocab, 34);
  batch.target.data_i32()[kTarget + 4] = -100;
  const Variable memory = model.encode(batch.source, batch.source_padding);
  const Tensor lp = model.decode(batch.input, memory, batch.source_padding).data();
  double nll = 0.0;
  for (int64_t r = 0; r < 2 * kTarget; ++r) {
    double total = 0.0;
    for (int64_t v = 0; v < kVocab; ++v) total += std::exp(double(lp.at(r * kVocab + v)));
    EXPECT_NEAR(total, 1.0, 1e-5);
    if (batch.target.data_i32()[r] != -100) nll -= lp.at(r * kVocab + batch.target.data_i32()[r]);
  }
  EXPECT_NEAR(model.loss(batch).item(), nll / 9, 1e-6 * nll / 9);
  EXPECT_CONTAINS(error_message([&] { model.loss(batch, {.label_smoothing = 0.1f}); }), "label smoothing");
  // Greedy decoding runs on the head's scores.
  const auto out = model.greedy(batch.source, batch.source_padding, 1, 2, 4);
  EXPECT_EQ(out.size(), 2u);
}

TEST(TransformerModel, IncrementalDecodingEqualsFullDecode) {
  for (const char* norm : {"post", "pre", "adaptive head"}) {
    SCOPED_TRACE(norm);
    const bool adaptive = std::string(norm) == "adaptive head";
    EncoderDecoder model(TransformerConfig::parse(adaptive ? tiny({{"head", kAdaptive}}) : tiny({{"norm", norm}})));
    randomize(model, 5);
    model.eval();
    const Tensor source = random_ids({2, kSource}, kVocab, 6), padding = source_padding();
    const Tensor target = random_ids({2, kTarget}, kVocab, 7);
    Tensor cross;
    const Tensor full = model.decode(target, model.encode(source, padding), padding, &cross).data();
    ASSERT_EQ(full.shape(), Shape({2, kTarget, kVocab}));
    ASSERT_EQ(cross.shape(), Shape({2, 2, kTarget, kSource}));
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t t = 0; t < kTarget; ++t)
        for (int64_t s = 4; s < kSource; ++s) EXPECT_EQ(cross.at(((2 + h) * kTarget + t) * kSource + s), 0.0f);
    DecoderState state = model.start_decoding(source, padding);
    for (int64_t t = 0; t < kTarget; ++t) {
      const Tensor step = model.decode_step(column(target, t), state).data();
      EXPECT_EQ(state.length(), t + 1);
      for (int64_t b = 0; b < 2; ++b)
        expect_close(step.data() + b * kVocab, full.data() + (b * kTarget + t) * kVocab, kVocab, 1e-5f, 1e-5f);
    }
  }
}

TEST(TransformerModel, PaddedSourcePositionsDoNotAffectTheOutput) {
  EncoderDecoder model(TransformerConfig::parse(tiny()));
  randomize(model, 8);
  Tensor source = random_ids({2, kSource}, kVocab, 9);
  const Tensor padding = source_padding(), target = random_ids({2, kTarget}, kVocab, 10);
  const Tensor a = model.decode(target, model.encode(source, padding), padding).data().copy();
  source.data_i32()[kSource + 4] = (source.data_i32()[kSource + 4] + 1) % kVocab;
  source.data_i32()[kSource + 5] = (source.data_i32()[kSource + 5] + 3) % kVocab;
  expect_close(model.decode(target, model.encode(source, padding), padding).data(), a, 1e-6f);
  // Without the mask the same change is visible.
  const Tensor none;
  const Tensor b = model.decode(target, model.encode(source, none), none).data();
  const Tensor c = random_ids({2, kSource}, kVocab, 9);
  const Tensor d = model.decode(target, model.encode(c, none), none).data();
  double diff = 0.0;
  for (int64_t i = kTarget * kVocab; i < b.numel(); ++i) diff += std::fabs(b.at(i) - d.at(i));
  EXPECT_GT(diff, 1e-4);
}

TEST(TransformerModel, GreedyPicksTheArgmaxAndStopsAtEos) {
  // (norm, seed) pairs whose free runs vary: with the eos chosen below, the first
  // stops row 1 at its first token while row 0 runs on; in the second, row 1 never meets eos.
  for (auto [norm, seed] : {std::pair<const char*, uint64_t>{"pre", 23}, {"post", 35}}) {
    SCOPED_TRACE(norm);
    EncoderDecoder model(TransformerConfig::parse(tiny({{"tie_embeddings", false}, {"norm", norm}})));
    randomize(model, seed);
    model.eval();
    const Tensor source = random_ids({2, kSource}, kVocab, 12), padding = source_padding();
    const int32_t bos = 0;
    // With an eos that never appears: max_steps tokens per row, each the argmax of the full decoder.
    const auto free_run = model.greedy(source, padding, bos, /*eos=*/-1, /*max_steps=*/5);
    ASSERT_EQ(free_run.size(), 2u);
    const Variable memory = model.encode(source, padding);
    for (int64_t t = 0; t < 5; ++t) {
      Tensor prefix = Tensor::empty({2, t + 1}, DType::I32);
      for (int64_t b = 0; b < 2; ++b) {
        ASSERT_EQ(free_run[b].size(), 5u);
        prefix.data_i32()[b * (t + 1)] = bos;
        for (int64_t i = 0; i < t; ++i) prefix.data_i32()[b * (t + 1) + i + 1] = free_run[b][i];
      }
      const Tensor logits = model.decode(prefix, memory, padding).data();
      for (int64_t b = 0; b < 2; ++b) {
        const float* row = logits.data() + (b * (t + 1) + t) * kVocab;
        EXPECT_EQ(std::max_element(row, row + kVocab) - row, free_run[b][t]) << "row " << b << " step " << t;
      }
    }
    // eos := the latest token of row 0 not seen earlier in it; row 0 must stop there.
    size_t k = 0;
    for (size_t i = 0; i < 5; ++i)
      if (std::find(free_run[0].begin(), free_run[0].begin() + i, free_run[0][i]) == free_run[0].begin() + i) k = i;
    ASSERT_GE(k, 3u) << "degenerate free run: the test would prove little";
    const int32_t eos = free_run[0][k];
    const auto stopped = model.greedy(source, padding, bos, eos, 5);
    // The ids before eos, eos itself excluded.
    EXPECT_EQ(stopped[0], std::vector<int32_t>(free_run[0].begin(), free_run[0].begin() + k));
    auto first_eos = std::find(free_run[1].begin(), free_run[1].end(), eos);
    EXPECT_EQ(stopped[1], std::vector<int32_t>(free_run[1].begin(), first_eos));
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

TEST(TransformerModel, SameSeedGivesBitwiseIdenticalInitialisation) {
  const TransformerConfig c = TransformerConfig::parse(tiny({{"share_embeddings", false}, {"tie_embeddings", false}}));
  default_generator().set_state(77, 0);
  EncoderDecoder a(c);
  default_generator().set_state(77, 0);
  EncoderDecoder b(c);
  default_generator().set_state(78, 0);
  EncoderDecoder other(c);
  EXPECT_TRUE(same_parameters(a, b));
  EXPECT_FALSE(same_parameters(a, other));
  Generator g1(3), g2(3);
  a.init_weights(g1);
  other.init_weights(g2);
  EXPECT_TRUE(same_parameters(a, other));
  EXPECT_EQ(parameter(a, "decoder.layers.1.ln3.weight").at(0), 1.0f);
  EXPECT_EQ(parameter(a, "encoder.layers.0.self_attn.out.bias").at(0), 0.0f);
}

TEST(TransformerModel, RegistryCreatesByTypeAndLossChecksTheBatch) {
  std::unique_ptr<Model> m = ModelRegistry::create(tiny());
  ASSERT_NE(dynamic_cast<EncoderDecoder*>(m.get()), nullptr);
  EXPECT_EQ(m->type(), "transformer");
  EXPECT_EQ(m->max_len(), 6);
  Batch batch;
  batch.input = batch.target = random_ids({2, kTarget}, kVocab, 1);
  EXPECT_CONTAINS(error_message([&] { m->loss(batch); }), "batch has no source");
  auto& model = dynamic_cast<EncoderDecoder&>(*m);
  EXPECT_CONTAINS(error_message([&] { model.encode(random_ids({1, 7}, kVocab, 2), Tensor()); }),
                  "exceeds model.seq_len = 6");
}

}  // namespace
}  // namespace tfm
