// Whole models against independent references: the loss (and every logit) of
// `lm`, `transformer` and `rnn-attention` on random weights and odd shapes,
// compared with plain double-precision loops written from the documented
// semantics (tests/reference/*.h, docs/checkpoint-format.md, docs/attention.md).
// Every variant is also checked to be distinguishable: the reference of a
// neighbouring variant (pre-LN for a post-LN model, a window one wider, dot for
// general, ...) evaluated on the same weights must miss the model's loss, so a
// composition bug cannot hide behind a variant that happens to agree.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "models/lm.h"
#include "models/rnn_attention.h"
#include "models/transformer.h"
#include "reference/lm_ref.h"
#include "reference/rnn_attention_ref.h"
#include "reference/transformer_ref.h"
#include "test_util.h"

namespace tfm {
namespace {
namespace ref = tfm::reference;

// float32 against double: the mean loss within a relative 1e-6, every logit within 5e-5·(1 + |logit|).
// Measured (printed per case): at most 1.1e-7 and 7.4e-6.
constexpr double kLossRtol = 1e-6;
constexpr double kLogitTol = 5e-5;
constexpr int32_t kPad = 3, kBos = 1, kEos = 2;

bool is_layer_norm(const std::string& name) { return name.starts_with("ln") || name.find(".ln") != std::string::npos; }

// Every parameter U(−1, 1), LayerNorm gains U(0.5, 1.5): far from the
// initialisation, so that no term is negligible (at U(−0.5, 0.5) the Luong
// alignments are nearly flat and the variants differ by little).
void randomise(Model& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    const bool gain = is_layer_norm(name) && name.ends_with(".weight");
    fill_uniform(p->mutable_data().data(), p->numel(), gain ? 0.5f : -1.0f, gain ? 1.5f : 1.0f, gen);
  }
}

ref::Params params_of(const Model& m) {
  ref::Params p;
  for (auto& [name, v] : m.named_parameters()) {
    const float* x = v->data().data();
    p.set(name, ref::Vector(x, x + v->numel()));
  }
  return p;
}

std::vector<ref::Ids> random_rows(int64_t rows, int64_t len, int32_t vocab, uint64_t seed) {
  Generator g(seed);
  std::vector<ref::Ids> out(static_cast<size_t>(rows));
  for (ref::Ids& r : out)
    for (int64_t t = 0; t < len; ++t) r.push_back(static_cast<int32_t>(g.next_below(vocab)));
  return out;
}

Tensor ids_tensor(const std::vector<ref::Ids>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::empty({B, T}, DType::I32);
  for (int64_t b = 0; b < B; ++b) std::copy(rows[b].begin(), rows[b].end(), t.data_i32() + b * T);
  return t;
}

// Sentence pairs of the given source and target lengths, as the trainer builds them
// (tools/data/parallel_data.cpp): source + eos; bos + target → target + eos.
std::vector<ref::SentencePair> random_pairs(const std::vector<int64_t>& source_lengths,
                                            const std::vector<int64_t>& target_lengths, int32_t vocab, uint64_t seed) {
  Generator g(seed);
  std::vector<ref::SentencePair> pairs;
  for (size_t i = 0; i < source_lengths.size(); ++i) {
    ref::SentencePair p;
    for (int64_t s = 0; s + 1 < source_lengths[i]; ++s) p.source.push_back(static_cast<int32_t>(g.next_below(vocab)));
    p.source.push_back(kEos);
    p.decoder_input.push_back(kBos);
    for (int64_t t = 0; t < target_lengths[i]; ++t) {
      const int32_t id = static_cast<int32_t>(g.next_below(vocab));
      p.decoder_input.push_back(id);
      p.target.push_back(id);
    }
    p.target.push_back(kEos);
    pairs.push_back(p);
  }
  return pairs;
}

// The padded batch of tools/data/parallel_data.cpp's make_batch: sources padded with
// kPad and marked in source_padding, decoder inputs padded with kPad, targets
// with ignore_index −100.
Batch padded_batch(const std::vector<ref::SentencePair>& pairs) {
  const int64_t B = static_cast<int64_t>(pairs.size());
  int64_t S = 0, T = 0;
  for (const auto& p : pairs) {
    S = std::max<int64_t>(S, static_cast<int64_t>(p.source.size()));
    T = std::max<int64_t>(T, static_cast<int64_t>(p.decoder_input.size()));
  }
  Batch b;
  b.source = Tensor::empty({B, S}, DType::I32);
  b.source_padding = Tensor::empty({B, S}, DType::I32);
  b.input = Tensor::empty({B, T}, DType::I32);
  b.target = Tensor::empty({B, T}, DType::I32);
  for (int64_t r = 0; r < B; ++r) {
    const auto& p = pairs[r];
    for (int64_t s = 0; s < S; ++s) {
      const bool real = s < static_cast<int64_t>(p.source.size());
      b.source.data_i32()[r * S + s] = real ? p.source[s] : kPad;
      b.source_padding.data_i32()[r * S + s] = real ? 0 : 1;
    }
    for (int64_t t = 0; t < T; ++t) {
      const bool real = t < static_cast<int64_t>(p.decoder_input.size());
      b.input.data_i32()[r * T + t] = real ? p.decoder_input[t] : kPad;
      b.target.data_i32()[r * T + t] = real ? p.target[t] : -100;
    }
  }
  return b;
}

double relative_difference(double a, double b) { return std::fabs(a - b) / std::max(1e-12, std::fabs(b)); }

// The largest |tfm − reference| / (1 + |reference|) over the logits [B, T, V]
// at every position the reference computed.
double worst_logit_difference(const Tensor& logits, const ref::Output& expected) {
  const int64_t T = logits.dim(1), V = logits.dim(2);
  double worst = 0.0;
  for (size_t b = 0; b < expected.logits.size(); ++b)
    for (size_t t = 0; t < expected.logits[b].size(); ++t)
      for (int64_t v = 0; v < V; ++v) {
        const double want = expected.logits[b][t][v];
        const double got = logits.data()[(static_cast<int64_t>(b) * T + static_cast<int64_t>(t)) * V + v];
        worst = std::max(worst, std::fabs(got - want) / (1.0 + std::fabs(want)));
      }
  return worst;
}

double expect_logits_match(const Tensor& logits, const ref::Output& expected) {
  const double worst = worst_logit_difference(logits, expected);
  EXPECT_LE(worst, kLogitTol) << "worst logit difference, relative to 1 + |logit|";
  return worst;
}

// Every parameter of the model enters the documented computation.
void expect_all_read(const ref::Params& params) {
  for (const std::string& name : params.unread()) ADD_FAILURE() << "the reference never reads " << name;
}

double expect_loss_matches(double loss, const ref::Output& expected) {
  EXPECT_GT(expected.tokens, 0);
  const double difference = relative_difference(loss, expected.loss);
  EXPECT_LE(difference, kLossRtol) << "tfm " << loss << " reference " << expected.loss;
  return difference;
}

// A neighbouring variant whose reference must not reproduce the model's loss.
struct Neighbour {
  std::string what;
  nlohmann::json patch;  // merged into the model's config (RFC 7386)
  std::function<void(ref::Params&, const nlohmann::json& config)> adapt = nullptr;  // reshapes weights if needed
};

struct Margin {
  double loss = INFINITY, logit = INFINITY;  // the smallest differences from any neighbour
};

template <typename Reference>
Margin expect_distinguishable(double loss, const Tensor& logits, const nlohmann::json& config,
                              const ref::Params& params, const std::vector<Neighbour>& neighbours,
                              Reference&& reference) {
  Margin nearest;
  for (const Neighbour& n : neighbours) {
    nlohmann::json other = config;
    other.merge_patch(n.patch);
    ref::Params p = params;
    p.fill_missing(true);  // e.g. ln_f for pre-LN on a post-LN model: random, the variant still differs
    if (n.adapt) n.adapt(p, config);
    const ref::Output o = reference(other, p);
    const double difference = relative_difference(loss, o.loss);
    const double logit_difference = worst_logit_difference(logits, o);
    nearest.loss = std::min(nearest.loss, difference);
    nearest.logit = std::min(nearest.logit, logit_difference);
    EXPECT_GT(difference, kLossRtol) << n.what << ": the neighbouring variant's reference reproduces the model's loss "
                                     << loss;
    EXPECT_GT(logit_difference, kLogitTol)
        << n.what << ": the neighbouring variant's reference reproduces the model's logits";
  }
  return nearest;
}

// One line per comparison, so that the margins can be read off a run.
void report(const std::string& name, double loss_difference, double logit_difference, const Margin& neighbour) {
  std::printf("[ reference ] %-45s loss %.1e logits %.1e; nearest neighbour: loss %.1e logits %.1e\n", name.c_str(),
              loss_difference, logit_difference, neighbour.loss, neighbour.logit);
}

// --- lm ---------------------------------------------------------------------------------------------------------

struct LmCase {
  std::string name;
  nlohmann::json config;
  std::vector<Neighbour> neighbours;
};

nlohmann::json lm_config(nlohmann::json extra) {
  nlohmann::json c = {{"type", "lm"}, {"vocab_size", 17}, {"n_layer", 2}, {"d_model", 12},
                      {"n_head", 2},  {"d_ff", 20},       {"seq_len", 16}};
  if (!extra.is_null()) c.merge_patch(extra);
  return c;
}

void check_lm(const LmCase& c, double label_smoothing = 0.0) {
  SCOPED_TRACE(c.name);
  auto model = ModelRegistry::create(c.config);
  randomise(*model, 101);
  model->eval();
  auto& lm = dynamic_cast<LanguageModel&>(*model);
  const std::vector<ref::Ids> inputs = random_rows(3, 13, 17, 7), targets = random_rows(3, 13, 17, 8);
  Batch batch;
  batch.input = ids_tensor(inputs);
  batch.target = ids_tensor(targets);
  NoGradGuard no_grad;
  const double loss = model->loss(batch, {.label_smoothing = static_cast<float>(label_smoothing)}).item();
  const Tensor logits = lm.forward(batch.input).data();

  const ref::Params params = params_of(*model);
  const ref::Output expected = ref::lm_reference(c.config, params, inputs, targets, label_smoothing);
  EXPECT_EQ(expected.tokens, 3 * 13);
  expect_all_read(params);
  const double loss_difference = expect_loss_matches(loss, expected);
  const double logit_difference = expect_logits_match(logits, expected);
  report(c.name, loss_difference, logit_difference,
         expect_distinguishable(loss, logits, c.config, params, c.neighbours,
                                [&](const nlohmann::json& cfg, const ref::Params& p) {
                                  return ref::lm_reference(cfg, p, inputs, targets, label_smoothing);
                                }));
}

TEST(ReferenceLm, PreLnTiedGeluMatchesReference) {
  // Only the shape is given: norm pre, tied head, exact gelu and global attention are the documented defaults.
  check_lm({"pre-LN tied gelu",
            lm_config({}),
            {{"post-LN", {{"norm", "post"}}},
             {"gelu_tanh", {{"activation", "gelu_tanh"}}},
             {"window 12 (a position sees only 12 of 13)", {{"attention_window", 12}}},
             {"untied", {{"tie_embeddings", false}}}}});
}

TEST(ReferenceLm, PostLnUntiedReluMatchesReference) {
  check_lm({"post-LN untied relu",
            lm_config({{"norm", "post"}, {"tie_embeddings", false}, {"activation", "relu"}}),
            {{"pre-LN", {{"norm", "pre"}}}, {"tied", {{"tie_embeddings", true}}}, {"gelu", {{"activation", "gelu"}}}}});
}

TEST(ReferenceLm, LocalAttentionWindowMatchesReference) {
  check_lm({"pre-LN window 3, 4 heads of 5, gelu_tanh",
            lm_config({{"attention_window", 3}, {"d_model", 20}, {"n_head", 4}, {"activation", "gelu_tanh"}}),
            {{"window 2", {{"attention_window", 2}}},
             {"window 4", {{"attention_window", 4}}},
             {"global", {{"attention_window", 0}}},
             {"gelu", {{"activation", "gelu"}}},
             {"post-LN", {{"norm", "post"}}}}});
  check_lm({"post-LN window 5 untied",
            lm_config({{"attention_window", 5}, {"norm", "post"}, {"tie_embeddings", false}, {"n_head", 4}}),
            {{"window 4", {{"attention_window", 4}}},
             {"window 6", {{"attention_window", 6}}},
             {"pre-LN", {{"norm", "pre"}}}}});
}

TEST(ReferenceLm, LabelSmoothedLossMatchesReference) {
  check_lm({"label smoothing 0.1", lm_config({{"norm", "post"}}), {{"pre-LN", {{"norm", "pre"}}}}}, 0.1);
}

// --- transformer ------------------------------------------------------------------------------------------------

nlohmann::json transformer_config(nlohmann::json extra) {
  // dropout is left at its default 0.1: the comparison runs in eval mode.
  nlohmann::json c = {{"type", "transformer"}, {"vocab_size", 17}, {"n_layer", 2}, {"d_model", 12},
                      {"n_head", 2},           {"d_ff", 20},       {"seq_len", 16}};
  if (!extra.is_null()) c.merge_patch(extra);
  return c;
}

// Sentences of 7, 3 and 5 source tokens and 6, 2 and 4 target tokens: rows padded differently on both sides.
const std::vector<int64_t> kSourceLengths = {7, 3, 5}, kTargetLengths = {6, 2, 4};

void check_transformer(const std::string& name, const nlohmann::json& config,
                       const std::vector<Neighbour>& neighbours) {
  SCOPED_TRACE(name);
  auto model = ModelRegistry::create(config);
  randomise(*model, 202);
  model->eval();
  auto& ed = dynamic_cast<EncoderDecoder&>(*model);
  const std::vector<ref::SentencePair> pairs = random_pairs(kSourceLengths, kTargetLengths, 17, 9);
  const Batch batch = padded_batch(pairs);
  NoGradGuard no_grad;
  const double loss = model->loss(batch).item();
  const Tensor logits =
      ed.decode(batch.input, ed.encode(batch.source, batch.source_padding), batch.source_padding).data();

  const ref::Params params = params_of(*model);
  const ref::Output expected = ref::transformer_reference(config, params, pairs);
  EXPECT_EQ(expected.tokens, 7 + 3 + 5);
  expect_all_read(params);
  const double loss_difference = expect_loss_matches(loss, expected);
  const double logit_difference = expect_logits_match(logits, expected);
  report(name, loss_difference, logit_difference,
         expect_distinguishable(loss, logits, config, params, neighbours,
                                [&](const nlohmann::json& cfg, const ref::Params& p) {
                                  return ref::transformer_reference(cfg, p, pairs);
                                }));
}

// Copies src_emb or tgt_emb into emb, for the shared-embedding reference on an unshared model.
Neighbour shared_from(const std::string& table) {
  return {
      "shared embeddings = " + table, {{"share_embeddings", true}}, [table](ref::Params& p, const nlohmann::json& c) {
        const size_t n = c["vocab_size"].get<size_t>() * c["d_model"].get<size_t>();
        p.set("emb.weight", p.get(table + ".weight", n));
      }};
}

TEST(ReferenceTransformer, DefaultPostLnSharedTiedReluMatchesReference) {
  // norm post, relu, shared and tied embeddings are the documented defaults for this type.
  check_transformer(
      "defaults", transformer_config({}),
      {{"pre-LN", {{"norm", "pre"}}}, {"gelu", {{"activation", "gelu"}}}, {"untied", {{"tie_embeddings", false}}}});
}

TEST(ReferenceTransformer, PreLnUnsharedTiedGeluMatchesReference) {
  check_transformer("pre-LN unshared tied gelu",
                    transformer_config({{"norm", "pre"}, {"share_embeddings", false}, {"activation", "gelu"}}),
                    {{"post-LN", {{"norm", "post"}}},
                     shared_from("src_emb"),
                     shared_from("tgt_emb"),
                     {"relu", {{"activation", "relu"}}}});
}

TEST(ReferenceTransformer, PostLnUnsharedUntiedFourHeadsMatchesReference) {
  check_transformer("post-LN unshared untied, 4 heads of 5",
                    transformer_config({{"share_embeddings", false},
                                        {"tie_embeddings", false},
                                        {"d_model", 20},
                                        {"n_head", 4},
                                        {"n_encoder_layers", 1},
                                        {"n_decoder_layers", 2}}),
                    {{"pre-LN", {{"norm", "pre"}}},
                     {"tied", {{"tie_embeddings", true}}},
                     shared_from("src_emb"),
                     shared_from("tgt_emb")});
}

TEST(ReferenceTransformer, PreLnSharedUntiedMatchesReference) {
  check_transformer("pre-LN shared untied", transformer_config({{"norm", "pre"}, {"tie_embeddings", false}}),
                    {{"post-LN", {{"norm", "post"}}}, {"tied", {{"tie_embeddings", true}}}});
}

// --- rnn-attention ----------------------------------------------------------------------------------------------

nlohmann::json rnn_config(const std::string& type, const std::string& score, nlohmann::json extra = {}) {
  // dropout is left at its default 0.2: the comparison runs in eval mode.
  nlohmann::json c = {{"type", "rnn-attention"},
                      {"vocab_size", 17},
                      {"d_model", 12},
                      {"seq_len", 16},
                      {"attention", {{"type", type}, {"score", score}, {"window", 2}}}};
  if (!extra.is_null()) c.merge_patch(extra);
  return c;
}

// Input feeding's effect removed, for a model trained with it: the columns of
// decoder.weight_ih that read h̃(t−1) are dropped.
void drop_feed_columns(ref::Params& p, const nlohmann::json& c) {
  const size_t H = c["d_model"].get<size_t>();
  const ref::Vector& w = p.get("decoder.weight_ih", 4 * H * 2 * H);
  ref::Vector cut;
  for (size_t r = 0; r < 4 * H; ++r) cut.insert(cut.end(), w.begin() + r * 2 * H, w.begin() + r * 2 * H + H);
  p.set("decoder.weight_ih", cut);
}

// Input feeding added to a model without it: random columns for h̃(t−1).
void add_feed_columns(ref::Params& p, const nlohmann::json& c) {
  const size_t H = c["d_model"].get<size_t>();
  const ref::Vector& w = p.get("decoder.weight_ih", 4 * H * H);
  ref::Vector wide;
  for (size_t r = 0; r < 4 * H; ++r) {
    wide.insert(wide.end(), w.begin() + r * H, w.begin() + (r + 1) * H);
    for (size_t k = 0; k < H; ++k) wide.push_back(0.3 * std::sin(static_cast<double>(r * H + k)));
  }
  p.set("decoder.weight_ih", wide);
}

void check_rnn(const std::string& name, const nlohmann::json& config, const std::vector<Neighbour>& neighbours) {
  SCOPED_TRACE(name);
  auto model = ModelRegistry::create(config);
  randomise(*model, 303);
  model->eval();
  auto& rnn = dynamic_cast<RnnAttention&>(*model);
  const std::vector<ref::SentencePair> pairs = random_pairs(kSourceLengths, kTargetLengths, 17, 10);
  const Batch batch = padded_batch(pairs);
  NoGradGuard no_grad;
  const double loss = model->loss(batch).item();
  const Tensor logits = rnn.decode(batch.input, rnn.encode(batch.source, batch.source_padding)).data();

  const ref::Params params = params_of(*model);
  const ref::Output expected = ref::rnn_attention_reference(config, params, pairs);
  EXPECT_EQ(expected.tokens, 7 + 3 + 5);
  expect_all_read(params);
  const double loss_difference = expect_loss_matches(loss, expected);
  const double logit_difference = expect_logits_match(logits, expected);
  report(name, loss_difference, logit_difference,
         expect_distinguishable(loss, logits, config, params, neighbours,
                                [&](const nlohmann::json& cfg, const ref::Params& p) {
                                  return ref::rnn_attention_reference(cfg, p, pairs);
                                }));
}

nlohmann::json attention(const std::string& type, const std::string& score = "") {
  nlohmann::json a = {{"type", type}};
  if (!score.empty()) a["score"] = score;
  return {{"attention", a}};
}

// Window D = 2 on sources of up to 7 tokens: local windows cut the sentence, so each alignment kind differs.
TEST(ReferenceRnnAttention, EveryScoreWithGlobalAlignmentMatchesReference) {
  for (const std::string score : {"dot", "general", "concat"}) {
    std::vector<Neighbour> n = {{"local-m", attention("local-m")}, {"no attention", attention("none")}};
    if (score != "dot") n.push_back({"dot score", attention("global", "dot")});
    if (score != "general") n.push_back({"general score", attention("global", "general")});
    check_rnn("global " + score, rnn_config("global", score), n);
  }
}

TEST(ReferenceRnnAttention, EveryScoreWithLocalMonotonicAlignmentMatchesReference) {
  for (const std::string score : {"dot", "general", "concat"}) {
    std::vector<Neighbour> n = {{"global", attention("global")}, {"local-p", attention("local-p")}};
    if (score != "concat")
      n.push_back({"concat score", attention("local-m", "concat")});
    else
      n.push_back({"general score", attention("local-m", "general")});
    check_rnn("local-m " + score, rnn_config("local-m", score), n);
  }
}

TEST(ReferenceRnnAttention, EveryScoreWithLocalPredictiveAlignmentMatchesReference) {
  for (const std::string score : {"dot", "general", "concat"}) {
    std::vector<Neighbour> n = {{"local-m", attention("local-m")},
                                {"global", attention("global")},
                                {"window 3", {{"attention", {{"window", 3}}}}}};
    if (score != "dot") n.push_back({"dot score", attention("local-p", "dot")});
    check_rnn("local-p " + score, rnn_config("local-p", score), n);
  }
}

TEST(ReferenceRnnAttention, NoAttentionMatchesReference) {
  check_rnn("none", rnn_config("none", "dot"), {{"global dot", attention("global")}});
}

TEST(ReferenceRnnAttention, InputFeedingOnAndOffMatchReference) {
  check_rnn("input feeding off, local-p general", rnn_config("local-p", "general", {{"input_feeding", false}}),
            {{"input feeding on", {{"input_feeding", true}}, add_feed_columns}});
  check_rnn("input feeding on (default), local-p general", rnn_config("local-p", "general"),
            {{"input feeding off", {{"input_feeding", false}}, drop_feed_columns}});
}

TEST(ReferenceRnnAttention, UntiedHeadMatchesReference) {
  check_rnn("untied, global concat", rnn_config("global", "concat", {{"tie_embeddings", false}}),
            {{"tied", {{"tie_embeddings", true}}}});
}

TEST(ReferenceRnnAttention, DefaultAttentionIsGlobalDot) {
  // No attention object at all: the documented default {"type": "global", "score": "dot", "window": 10}.
  nlohmann::json c = rnn_config("global", "dot");
  c.erase("attention");
  check_rnn("default attention", c, {{"general score", attention("global", "general")}});
}

}  // namespace
}  // namespace tfm
