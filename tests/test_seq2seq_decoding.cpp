// Decoding for both encoder-decoders (models/seq2seq.h): batched beam search
// equals beam search sentence by sentence (exact, on a table decoder), and for
// the Transformer (key/value caches reordered between steps) and the RNN with
// Luong attention: a finished hypothesis's log-probability equals the
// teacher-forced log-probability of its tokens, beam 1 is greedy, a padded
// sentence in a batch decodes as it does alone, and cross-attention maps are
// distributions over the source that match the decoder's own weights.
#include <cmath>
#include <functional>

#include "autograd/ops.h"
#include "models/rnn_attention.h"
#include "models/transformer.h"
#include "test_util.h"

namespace tfm {
namespace {
using namespace tfm::testing;

constexpr int32_t kBos = 0, kEos = 1;
constexpr int64_t kVocab = 9;

// log p(next | sentence, step, last): a random table per sentence; rows carry their sentence id.
class MultiTableDecoder : public BeamDecoder {
 public:
  MultiTableDecoder(std::vector<int64_t> sentences, int64_t vocab, int64_t steps, uint64_t seed)
      : rows_(std::move(sentences)), V_(vocab), steps_(steps), table_(random_tensor({8, steps, vocab, vocab}, seed, -3.0f, 3.0f)) {
    for (int64_t i = 0; i < 8 * steps * vocab; ++i) {
      float* row = table_.data() + i * vocab;
      double z = 0.0;
      for (int64_t v = 0; v < vocab; ++v) z += std::exp(row[v]);
      for (int64_t v = 0; v < vocab; ++v) row[v] -= static_cast<float>(std::log(z));
    }
  }
  Tensor step(const std::vector<int32_t>& last) override {
    EXPECT_EQ(last.size(), rows_.size());
    Tensor out = Tensor::empty({static_cast<int64_t>(last.size()), V_});
    for (size_t r = 0; r < last.size(); ++r)
      std::copy_n(table_.data() + ((rows_[r] * steps_ + t_) * V_ + last[r]) * V_, V_, out.data() + r * V_);
    ++t_;
    return out;
  }
  void reorder(const std::vector<int64_t>& rows) override {
    std::vector<int64_t> next;
    for (int64_t r : rows) next.push_back(rows_.at(r));
    rows_ = next;
  }

 private:
  std::vector<int64_t> rows_;
  int64_t V_, steps_, t_ = 0;
  Tensor table_;
};

TEST(BeamSearchBatch, EachSentenceGetsWhatItWouldAlone) {
  for (double alpha : {0.0, 1.0})
    for (int64_t beam : {1, 3, 6}) {
      SCOPED_TRACE(::testing::Message() << "alpha " << alpha << " beam " << beam);
      BeamOptions o;
      o.beam = beam, o.length_penalty = alpha, o.max_len = 7, o.bos = kBos, o.eos = kEos;
      const std::vector<int64_t> sentences = {4, 0, 7, 2, 4};
      MultiTableDecoder batch(sentences, 6, 7, 21);
      const auto together = beam_search_batch(batch, static_cast<int64_t>(sentences.size()), o);
      ASSERT_EQ(together.size(), sentences.size());
      for (size_t i = 0; i < sentences.size(); ++i) {
        MultiTableDecoder alone({sentences[i]}, 6, 7, 21);
        const auto want = beam_search(alone, o);
        ASSERT_EQ(together[i].size(), want.size()) << "sentence " << i;
        for (size_t k = 0; k < want.size(); ++k) {
          EXPECT_EQ(together[i][k].tokens, want[k].tokens) << "sentence " << i << " hypothesis " << k;
          EXPECT_DOUBLE_EQ(together[i][k].score, want[k].score);
        }
      }
      EXPECT_EQ(together[1].front().tokens, together[1].front().tokens);
      EXPECT_EQ(together[0].front().tokens, together[4].front().tokens) << "same table, same result";
    }
}

void randomize(Module& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    const bool ln_weight = name.find("ln") != std::string::npos && name.ends_with(".weight");
    fill_uniform(p->mutable_data().data(), p->numel(), ln_weight ? 0.5f : -0.8f, ln_weight ? 1.5f : 0.8f, gen);
  }
}

std::unique_ptr<Seq2SeqModel> transformer(const std::string& norm) {
  auto m = std::make_unique<EncoderDecoder>(TransformerConfig::parse(
      {{"type", "transformer"}, {"n_encoder_layers", 2}, {"n_decoder_layers", 2}, {"n_head", 2}, {"d_model", 8},
       {"d_ff", 16}, {"seq_len", 12}, {"vocab_size", kVocab}, {"dropout", 0.0}, {"norm", norm}}));
  randomize(*m, 31);
  m->eval();
  return m;
}

std::unique_ptr<Seq2SeqModel> rnn(const std::string& type) {
  auto m = std::make_unique<RnnAttention>(RnnAttentionConfig::parse(
      {{"type", "rnn-attention"}, {"vocab_size", kVocab}, {"d_model", 8}, {"seq_len", 12}, {"dropout", 0.0},
       {"attention", {{"type", type}, {"score", "general"}, {"window", 2}}}}));
  Generator g(32);
  m->init_weights(g);
  randomize(*m, 33);
  m->eval();
  return m;
}

// Sum of log p(tokens, eos | source) by teacher forcing with the full (uncached) decoder.
double teacher_forced_log_prob(Seq2SeqModel& m, const std::vector<int32_t>& source, const std::vector<int32_t>& tokens,
                               bool ends_with_eos) {
  NoGradGuard no_grad;
  Batch b;
  b.source = Tensor::empty({1, static_cast<int64_t>(source.size())}, DType::I32);
  std::copy(source.begin(), source.end(), b.source.data_i32());
  const int64_t T = static_cast<int64_t>(tokens.size()) + (ends_with_eos ? 1 : 0);
  b.input = Tensor::empty({1, T}, DType::I32);
  b.target = Tensor::empty({1, T}, DType::I32);
  for (int64_t t = 0; t < T; ++t) {
    b.input.data_i32()[t] = t == 0 ? kBos : tokens[t - 1];
    b.target.data_i32()[t] = t < static_cast<int64_t>(tokens.size()) ? tokens[t] : kEos;
  }
  return -m.loss(b).item() * static_cast<double>(T);
}

const std::vector<std::vector<int32_t>> kSources = {{3, 4, 5, 6, 2}, {7, 8, 3}, {5, 5, 6, 7, 8, 4}};

// Sources padded into one batch.
std::pair<Tensor, Tensor> padded_batch() {
  const int64_t S = 6;
  Tensor src = Tensor::empty({3, S}, DType::I32), pad = Tensor::empty({3, S}, DType::I32);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t s = 0; s < S; ++s) {
      const bool real = s < static_cast<int64_t>(kSources[r].size());
      src.data_i32()[r * S + s] = real ? kSources[r][s] : 2;
      pad.data_i32()[r * S + s] = real ? 0 : 1;
    }
  return {src, pad};
}

Tensor one_row(const std::vector<int32_t>& ids) {
  Tensor t = Tensor::empty({1, static_cast<int64_t>(ids.size())}, DType::I32);
  std::copy(ids.begin(), ids.end(), t.data_i32());
  return t;
}

void check_decoding(Seq2SeqModel& m) {
  BeamOptions o;
  o.beam = 4, o.length_penalty = 0.6, o.max_len = 8, o.bos = kBos, o.eos = kEos;
  auto [src, pad] = padded_batch();
  auto dec = m.beam_decoder(src, pad, o.max_len);
  const auto batched = beam_search_batch(*dec, 3, o);
  for (size_t i = 0; i < kSources.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "sentence " << i);
    // Alone, without padding: the same hypotheses.
    auto alone_dec = m.beam_decoder(one_row(kSources[i]), Tensor(), o.max_len);
    const auto alone = beam_search(*alone_dec, o);
    ASSERT_EQ(batched[i].size(), alone.size());
    ASSERT_FALSE(alone.empty());
    for (size_t k = 0; k < alone.size(); ++k) {
      EXPECT_EQ(batched[i][k].tokens, alone[k].tokens) << "hypothesis " << k;
      EXPECT_NEAR(batched[i][k].log_prob, alone[k].log_prob, 1e-4);
    }
    // Every hypothesis's log-probability is the full decoder's: the caches and their reordering are right.
    for (const Hypothesis& h : alone) {
      const bool eos = static_cast<int64_t>(h.tokens.size()) < o.max_len;
      EXPECT_NEAR(h.log_prob, teacher_forced_log_prob(m, kSources[i], h.tokens, eos), 2e-4) << "hypothesis of "
                                                                                             << h.tokens.size();
    }
    // Beam 1 is greedy decoding.
    BeamOptions g = o;
    g.beam = 1;
    auto greedy_dec = m.beam_decoder(one_row(kSources[i]), Tensor(), o.max_len);
    const auto greedy = m.greedy(one_row(kSources[i]), Tensor(), kBos, kEos, o.max_len);
    EXPECT_EQ(beam_search(*greedy_dec, g).at(0).tokens, greedy.at(0));
  }
  // Greedy over the padded batch equals greedy alone.
  const auto greedy_batch = m.greedy(src, pad, kBos, kEos, o.max_len);
  for (size_t i = 0; i < kSources.size(); ++i)
    EXPECT_EQ(greedy_batch[i], m.greedy(one_row(kSources[i]), Tensor(), kBos, kEos, o.max_len)[0]) << i;
}

TEST(Seq2SeqDecoding, TransformerPostNorm) { check_decoding(*transformer("post")); }
TEST(Seq2SeqDecoding, TransformerPreNorm) { check_decoding(*transformer("pre")); }
TEST(Seq2SeqDecoding, RnnGlobalAttention) { check_decoding(*rnn("global")); }
TEST(Seq2SeqDecoding, RnnLocalPAttention) { check_decoding(*rnn("local-p")); }
TEST(Seq2SeqDecoding, RnnWithoutAttention) { check_decoding(*rnn("none")); }

TEST(Seq2SeqDecoding, TransformerCrossAttentionMapsAreDistributionsOfTheRightLayerAndHead) {
  auto holder = transformer("pre");
  auto& m = static_cast<EncoderDecoder&>(*holder);
  const Tensor source = one_row(kSources[2]), target = one_row({kBos, 4, 5, 6});
  const int64_t S = source.dim(1), T = target.dim(1);
  for (int64_t layer : {0, 1}) {
    Tensor full;  // [1, H, T, S]
    {
      NoGradGuard no_grad;
      m.decode(target, m.encode(source, Tensor()), Tensor(), &full, layer);
    }
    Tensor mean = Tensor::zeros({T, S});
    for (int64_t h = 0; h < 2; ++h) {
      const Tensor w = m.cross_attention(source, target, layer, h);
      ASSERT_EQ(w.shape(), Shape({T, S}));
      expect_close(w.data(), full.data() + h * T * S, T * S, 1e-6f);
      for (int64_t i = 0; i < T * S; ++i) mean.data()[i] += 0.5f * w.data()[i];
    }
    expect_close(m.cross_attention(source, target, layer, -1), mean, 1e-6f);
    const Tensor w = m.cross_attention(source, target, layer, -1);
    for (int64_t t = 0; t < T; ++t) {
      double sum = 0.0;
      for (int64_t s = 0; s < S; ++s) sum += w.data()[t * S + s];
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
  // The two layers attend differently (the layer argument is honoured).
  const Tensor a = m.cross_attention(source, target, 0, -1), b = m.cross_attention(source, target, 1, -1);
  double diff = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) diff += std::fabs(a.data()[i] - b.data()[i]);
  EXPECT_GT(diff, 1e-3);
  EXPECT_CONTAINS(error_message([&] { m.cross_attention(source, target, 2, -1); }), "decoder layer 2 out of range");
  EXPECT_CONTAINS(error_message([&] { m.cross_attention(source, target, 0, 2); }), "head 2 out of range");
}

TEST(Seq2SeqDecoding, RnnCrossAttentionIsTheDecodersWeights) {
  for (const char* type : {"global", "local-m", "local-p"}) {
    SCOPED_TRACE(type);
    auto holder = rnn(type);
    auto& m = static_cast<RnnAttention&>(*holder);
    const Tensor source = one_row(kSources[0]), target = one_row({kBos, 4, 5});
    Tensor want;
    {
      NoGradGuard no_grad;
      m.decode(target, m.encode(source, Tensor()), &want);
    }
    const Tensor w = m.cross_attention(source, target, -1, -1);
    ASSERT_EQ(w.shape(), Shape({3, source.dim(1)}));
    expect_close(w.data(), want.data(), w.numel(), 1e-6f);
    EXPECT_CONTAINS(error_message([&] { m.cross_attention(source, target, 1, -1); }), "one attention layer");
  }
  auto none = rnn("none");
  EXPECT_CONTAINS(error_message([&] { none->cross_attention(one_row({3, 1}), one_row({kBos}), -1, -1); }),
                  "has no attention");
}

}  // namespace
}  // namespace tfm
