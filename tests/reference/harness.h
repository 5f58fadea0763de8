#pragma once
// The harness of the whole-model reference tests (test_reference_models.cpp,
// test_reference_lm_blocks.cpp): random weights and rows, the tolerances, the
// comparison of a model's loss and logits with a reference, and the check that
// neighbouring variants' references miss them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "models/lm.h"
#include "models/model.h"
#include "reference/lm_ref.h"
#include "reference/rnn_attention_ref.h"
#include "reference/transformer_ref.h"
#include "test_util.h"

namespace tfm::reference_harness {
namespace ref = tfm::reference;

// float32 against double: the mean loss within a relative 1e-6, every logit within 5e-5·(1 + |logit|).
// Measured (printed per case): at most 1.1e-7 and 7.4e-6.
inline constexpr double kLossRtol = 1e-6;
inline constexpr double kLogitTol = 5e-5;
inline constexpr int32_t kPad = 3, kBos = 1, kEos = 2;

inline bool is_layer_norm(const std::string& name) { return name.starts_with("ln") || name.find(".ln") != std::string::npos; }

// Every parameter U(−1, 1), LayerNorm gains U(0.5, 1.5): far from the
// initialisation, so that no term is negligible (at U(−0.5, 0.5) the Luong
// alignments are nearly flat and the variants differ by little).
inline void randomise(Model& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    const bool gain = is_layer_norm(name) && name.ends_with(".weight");
    fill_uniform(p->mutable_data().data(), p->numel(), gain ? 0.5f : -1.0f, gain ? 1.5f : 1.0f, gen);
  }
}

inline ref::Params params_of(const Model& m) {
  ref::Params p;
  for (auto& [name, v] : m.named_parameters()) {
    const float* x = v->data().data();
    p.set(name, ref::Vector(x, x + v->numel()));
  }
  return p;
}

inline std::vector<ref::Ids> random_rows(int64_t rows, int64_t len, int32_t vocab, uint64_t seed) {
  Generator g(seed);
  std::vector<ref::Ids> out(static_cast<size_t>(rows));
  for (ref::Ids& r : out)
    for (int64_t t = 0; t < len; ++t) r.push_back(static_cast<int32_t>(g.next_below(vocab)));
  return out;
}

inline Tensor ids_tensor(const std::vector<ref::Ids>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows[0].size());
  Tensor t = Tensor::empty({B, T}, DType::I32);
  for (int64_t b = 0; b < B; ++b) std::copy(rows[b].begin(), rows[b].end(), t.data_i32() + b * T);
  return t;
}

// Sentence pairs of the given source and target lengths, as the trainer builds them
// (tools/data/parallel_data.cpp): source + eos; bos + target → target + eos.
inline std::vector<ref::SentencePair> random_pairs(const std::vector<int64_t>& source_lengths,
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

inline double relative_difference(double a, double b) { return std::fabs(a - b) / std::max(1e-12, std::fabs(b)); }

// The largest |tfm − reference| / (1 + |reference|) over the logits [B, T, V]
// at every position the reference computed.
inline double worst_logit_difference(const Tensor& logits, const ref::Output& expected) {
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

inline double expect_logits_match(const Tensor& logits, const ref::Output& expected) {
  const double worst = worst_logit_difference(logits, expected);
  EXPECT_LE(worst, kLogitTol) << "worst logit difference, relative to 1 + |logit|";
  return worst;
}

// Every parameter of the model enters the documented computation.
inline void expect_all_read(const ref::Params& params) {
  for (const std::string& name : params.unread()) ADD_FAILURE() << "the reference never reads " << name;
}

inline double expect_loss_matches(double loss, const ref::Output& expected) {
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
inline Margin expect_distinguishable(double loss, const Tensor& logits, const nlohmann::json& config,
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
inline void report(const std::string& name, double loss_difference, double logit_difference, const Margin& neighbour) {
  std::printf("[ reference ] %-45s loss %.1e logits %.1e; nearest neighbour: loss %.1e logits %.1e\n", name.c_str(),
              loss_difference, logit_difference, neighbour.loss, neighbour.logit);
}

// --- lm ---------------------------------------------------------------------------------------------------------

struct LmCase {
  std::string name;
  nlohmann::json config;
  std::vector<Neighbour> neighbours;
};

inline nlohmann::json lm_config(nlohmann::json extra) {
  nlohmann::json c = {{"type", "lm"}, {"vocab_size", 17}, {"n_layer", 2}, {"d_model", 12},
                      {"n_head", 2},  {"d_ff", 20},       {"seq_len", 16}};
  if (!extra.is_null()) c.merge_patch(extra);
  return c;
}

inline void check_lm(const LmCase& c, double label_smoothing = 0.0) {
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

}  // namespace tfm::reference_harness
