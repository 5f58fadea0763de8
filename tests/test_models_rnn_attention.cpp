// models/rnn_attention: the Luong LSTM encoder-decoder from a config, its
// loss against an explicit step-by-step composition, a gradcheck, padding
// that never changes a sentence's result, greedy decoding that learns to copy.
#include <cmath>

#include "models/rnn_attention.h"
#include "optim/optimizer.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

nlohmann::json config(const std::string& type, const std::string& score, bool feeding = true) {
  return {{"type", "rnn-attention"}, {"vocab_size", 11}, {"d_model", 8},  {"dropout", 0.0},
          {"input_feeding", feeding}, {"attention", {{"type", type}, {"score", score}, {"window", 2}}}};
}

Batch batch_of(const Tensor& source, const Tensor& padding, int64_t T, uint64_t seed) {
  Batch b;
  b.source = source;
  b.source_padding = padding;
  b.input = random_ids({source.dim(0), T}, 11, seed);
  b.target = random_ids({source.dim(0), T}, 11, seed + 1);
  return b;
}

TEST(RnnAttention, ConfigRoundTripsAndNamesPaperParameters) {
  auto m = ModelRegistry::create(config("local-p", "concat"));
  EXPECT_EQ(m->type(), "rnn-attention");
  const nlohmann::json c = m->config();
  EXPECT_EQ(c["attention"]["type"], "local-p");
  EXPECT_EQ(ModelRegistry::create(c)->config(), c);
  std::vector<std::string> names;
  for (auto& [name, p] : m->named_parameters()) names.push_back(name);
  for (const char* expected : {"encoder.weight_ih_l0", "decoder.weight_hh", "attention.W_c.weight", "attention.v_a",
                               "attention.W_p.weight", "src_emb.weight", "tgt_emb.weight"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  EXPECT_CONTAINS(error_message([] { ModelRegistry::create(config("local", "dot")); }), "attention.type");
}

TEST(RnnAttention, HeadSlotTakesARegisteredHeadAndKeepsTheUntiedName) {
  nlohmann::json untied = config("global", "dot");
  untied["tie_embeddings"] = false;
  std::vector<std::string> names;
  for (auto& [name, p] : ModelRegistry::create(untied)->named_parameters()) names.push_back(name);
  EXPECT_NE(std::find(names.begin(), names.end(), "head.weight"), names.end());  // the checkpoint name since v1

  nlohmann::json adaptive = config("global", "dot");
  adaptive["head"] = {{"type", "adaptive"}, {"cutoffs", {4}}, {"div_value", 2.0}};
  auto m = ModelRegistry::create(adaptive);
  const nlohmann::json c = m->config();
  EXPECT_EQ(c["tie_embeddings"], false);  // the adaptive head cannot tie, so tying defaults off
  EXPECT_EQ(c["head"]["type"], "adaptive");
  EXPECT_EQ(ModelRegistry::create(c)->config(), c);
  // The decoder's scores are the adaptive head's log-probabilities: each row sums to 1.
  Generator g(8);
  m->init_weights(g);
  m->eval();
  auto& rnn = dynamic_cast<RnnAttention&>(*m);
  NoGradGuard no_grad;
  const Tensor logp = rnn.decode(random_ids({2, 3}, 11, 9), rnn.encode(random_ids({2, 4}, 11, 10), Tensor())).data();
  ASSERT_EQ(logp.shape(), Shape({2, 3, 11}));
  for (int64_t r = 0; r < 6; ++r) {
    double sum = 0;
    for (int64_t v = 0; v < 11; ++v) sum += std::exp(static_cast<double>(logp.data()[r * 11 + v]));
    EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << r;
  }

  adaptive["tie_embeddings"] = true;
  EXPECT_CONTAINS(error_message([&] { ModelRegistry::create(adaptive); }), "cannot share the token embedding");
  nlohmann::json unknown = config("global", "dot");
  unknown["head"] = "softmax9";
  EXPECT_CONTAINS(error_message([&] { ModelRegistry::create(unknown); }), "model.head");
}

TEST(RnnAttention, GradcheckThroughEncoderAttentionAndDecoder) {
  for (const char* type : {"global", "local-m", "none"}) {
    SCOPED_TRACE(type);
    default_generator().set_state(3, 0);
    auto m = ModelRegistry::create(config(type, "general"));
    Generator g(4);
    m->init_weights(g);
    Tensor pad = Tensor::zeros({2, 5}, DType::I32);
    pad.data_i32()[9] = 1;  // sentence 2 has 4 tokens
    const Batch b = batch_of(random_ids({2, 5}, 11, 5), pad, 3, 6);
    std::vector<Variable> params;
    // Weights of the initialiser's small scale give gradients near 1e-5, below the float32 noise of a
    // central difference of the loss; larger ones make the check sharp (a 1% error fails it).
    for (auto& [name, p] : m->named_parameters()) {
      fill_uniform(p->mutable_data().data(), p->numel(), -0.6f, 0.6f, g);
      params.push_back(*p);
    }
    GradcheckOptions go;
    go.max_elements = 60;
    const GradcheckResult r = gradcheck([&](const std::vector<Variable>&) { return m->loss(b); }, params, go);
    EXPECT_TRUE(r.ok) << r.report;
  }
}

TEST(RnnAttention, PaddingNeverChangesASentencesLoss) {
  default_generator().set_state(7, 0);
  auto m = ModelRegistry::create(config("global", "dot"));
  Generator g(8);
  m->init_weights(g);
  // Sentence alone (3 source tokens) and the same sentence padded to 6 next to another one.
  Tensor src1 = random_ids({1, 3}, 11, 9);
  Tensor src2 = Tensor::zeros({2, 6}, DType::I32), pad2 = Tensor::zeros({2, 6}, DType::I32);
  const Tensor other = random_ids({1, 6}, 11, 10);
  for (int64_t s = 0; s < 6; ++s) {
    src2.data_i32()[s] = s < 3 ? src1.data_i32()[s] : 5;
    pad2.data_i32()[s] = s >= 3;
    src2.data_i32()[6 + s] = other.data_i32()[s];
  }
  Batch one = batch_of(src1, Tensor(), 4, 11);
  Batch two = batch_of(src2, pad2, 4, 11);
  for (int64_t t = 0; t < 4; ++t) {  // same target for row 0, target of row 1 ignored
    two.input.data_i32()[t] = one.input.data_i32()[t];
    two.target.data_i32()[t] = one.target.data_i32()[t];
    two.target.data_i32()[4 + t] = -100;
  }
  EXPECT_NEAR(m->loss(two).item(), m->loss(one).item(), 1e-5);
}

TEST(RnnAttention, LearnsToCopyAndDecodesGreedily) {
  default_generator().set_state(12, 0);
  auto m = std::make_unique<RnnAttention>(RnnAttentionConfig::parse(
      {{"type", "rnn-attention"}, {"vocab_size", 8}, {"d_model", 32}, {"dropout", 0.0},
       {"attention", {{"type", "global"}, {"score", "general"}}}}));
  Generator g(13);
  m->init_weights(g);
  OptimizerConfig oc;
  oc.name = "adam";
  auto opt = make_optimizer(m->named_parameters(), oc);
  // Copy task over tokens 2..7, bos 0, eos 1.
  Generator data(14);
  for (int step = 0; step < 300; ++step) {
    Batch b;
    b.source = Tensor::empty({16, 4}, DType::I32);
    b.input = Tensor::empty({16, 5}, DType::I32);
    b.target = Tensor::empty({16, 5}, DType::I32);
    for (int64_t r = 0; r < 16; ++r) {
      b.input.data_i32()[r * 5] = 0;
      for (int64_t s = 0; s < 4; ++s) {
        const int32_t tok = 2 + static_cast<int32_t>(data.next_below(6));
        b.source.data_i32()[r * 4 + s] = tok;
        b.target.data_i32()[r * 5 + s] = tok;
        b.input.data_i32()[r * 5 + s + 1] = tok;
      }
      b.target.data_i32()[r * 5 + 4] = 1;
    }
    opt->zero_grad();
    m->loss(b).backward();
    opt->step(0.01);
  }
  Tensor src = Tensor::empty({2, 4}, DType::I32);
  const int32_t seqs[8] = {2, 5, 7, 3, 6, 6, 4, 2};
  std::copy(seqs, seqs + 8, src.data_i32());
  const auto out = m->greedy(src, Tensor(), 0, 1, 10);
  EXPECT_EQ(out[0], (std::vector<int32_t>{2, 5, 7, 3}));
  EXPECT_EQ(out[1], (std::vector<int32_t>{6, 6, 4, 2}));
  // Beam search over one sentence finds the copy too, its best score first.
  BeamOptions bo;
  bo.beam = 4, bo.bos = 0, bo.eos = 1, bo.max_len = 10;
  Tensor one = Tensor::empty({1, 4}, DType::I32);
  std::copy(seqs, seqs + 4, one.data_i32());
  const std::vector<Hypothesis> hyps = m->beam(one, bo);
  ASSERT_FALSE(hyps.empty());
  EXPECT_EQ(hyps[0].tokens, (std::vector<int32_t>{2, 5, 7, 3}));
  // Teacher-forced decoding returns one weight row per target position over the source.
  Tensor weights;
  const RnnAttention::Encoded enc = m->encode(src, Tensor());
  m->decode(random_ids({2, 3}, 8, 15), enc, &weights);
  EXPECT_EQ(weights.shape(), Shape({2, 3, 4}));
}

}  // namespace
}  // namespace tfm
