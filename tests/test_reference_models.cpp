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
#include "reference/harness.h"
#include "reference/lm_ref.h"
#include "reference/rnn_attention_ref.h"
#include "reference/transformer_ref.h"
#include "test_util.h"

namespace tfm {
namespace {
namespace ref = tfm::reference;
using namespace tfm::reference_harness;


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

TEST(ReferenceLm, AdaptiveSoftmaxHeadMatchesReference) {
  // d_model 22, div_value 2.2: the first tail is 22 // 2.2 = 9 wide (Python's floor division), not 10.
  const nlohmann::json adaptive = {{"type", "adaptive"}, {"cutoffs", {5, 11}}, {"div_value", 2.2}, {"head_bias", true}};
  check_lm({"adaptive head, cutoffs 5 11, div 2.2, bias",
            lm_config({{"head", adaptive}, {"d_model", 22}, {"norm", "post"}}),
            {{"no head bias", {{"head", {{"head_bias", false}}}}},
             {"tied linear head", {{"head", "linear"}, {"tie_embeddings", true}}},
             {"pre-LN", {{"norm", "pre"}}}}});
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

TEST(ReferenceRnnAttention, AdaptiveHeadMatchesReference) {
  const nlohmann::json adaptive = {{"type", "adaptive"}, {"cutoffs", {4, 9}}, {"div_value", 2.0}, {"head_bias", true}};
  check_rnn("adaptive head, cutoffs 4 9, div 2, bias", rnn_config("global", "general", {{"head", adaptive}}),
            {{"no head bias", {{"head", {{"head_bias", false}}}}},
             {"tied linear head", {{"head", "linear"}, {"tie_embeddings", true}}}});
}

TEST(ReferenceRnnAttention, DefaultAttentionIsGlobalDot) {
  // No attention object at all: the documented default {"type": "global", "score": "dot", "window": 10}.
  nlohmann::json c = rnn_config("global", "dot");
  c.erase("attention");
  check_rnn("default attention", c, {{"general score", attention("global", "general")}});
}

}  // namespace
}  // namespace tfm
