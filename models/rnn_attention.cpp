#include "models/rnn_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/config.h"
#include "layers/init.h"

namespace tfm {

RnnAttentionConfig RnnAttentionConfig::parse(const nlohmann::json& model) {
  ConfigReader r(model, "model");
  RnnAttentionConfig c;
  r.get_string("type", "rnn-attention", {"rnn-attention"});
  c.vocab_size = r.get_int("vocab_size", 0, 0, 1 << 24);
  c.d_model = r.get_int("d_model", c.d_model, 1, 1 << 16);
  c.max_len = r.get_int("seq_len", c.max_len, 1, 1 << 20);
  c.dropout = static_cast<float>(r.get_number("dropout", c.dropout, 0.0, 0.99));
  read_head_and_tie(r, c.head, c.tie_embeddings);
  c.input_feeding = r.get_bool("input_feeding", c.input_feeding);
  c.attention = LuongAttentionConfig::parse(r.get_json("attention"));
  r.finish();
  TFM_CHECK(c.vocab_size > 0, "config: model.vocab_size must be set (the tool sets it from the tokenizer)");
  return c;
}

nlohmann::json RnnAttentionConfig::to_json() const {
  nlohmann::json j = {{"type", "rnn-attention"}, {"vocab_size", vocab_size}, {"d_model", d_model},
                      {"seq_len", max_len},      {"dropout", dropout},       {"tie_embeddings", tie_embeddings},
                      {"input_feeding", input_feeding}, {"attention", attention.to_json()}};
  if (const nlohmann::json head_json = head_slot_json(head); !head_json.is_null()) j["head"] = head_json;
  return j;
}

RnnAttention::RnnAttention(const RnnAttentionConfig& c)
    : src_emb(c.vocab_size, c.d_model),
      tgt_emb(c.vocab_size, c.d_model),
      encoder(c.d_model, c.d_model),
      decoder(c.input_feeding ? 2 * c.d_model : c.d_model, c.d_model),
      attention(c.d_model, c.attention),
      config_(c),
      dropout_(c.dropout) {
  register_module("src_emb", src_emb);
  register_module("tgt_emb", tgt_emb);
  register_module("encoder", encoder);
  register_module("decoder", decoder);
  register_module("attention", attention);
  // Tied, the "linear" head owns no tensor; untied, its weight is "head.weight" as before the slot existed.
  head = create_head(c.head, {c.d_model, c.vocab_size, c.tie_embeddings ? &tgt_emb.weight : nullptr});
  register_module("head", *head);
  register_module("dropout", dropout_);
}

void RnnAttention::init_weights(Generator& gen) {
  // Luong et al.: every parameter U(−0.1, 0.1).
  reset_parameters(InitScheme::uniform_all(0.1f), gen);
}

Variable RnnAttention::project(const Variable& h) const { return head->logits(h); }

RnnAttention::Encoded RnnAttention::encode(const Tensor& source, const Tensor& padding) {
  TFM_CHECK(source.defined() && source.shape().ndim() == 2, "rnn-attention: source must be [batch, len] ids");
  const int64_t B = source.dim(0), S = source.dim(1);
  std::vector<int64_t> lengths(static_cast<size_t>(B), S);
  if (padding.defined())
    for (int64_t b = 0; b < B; ++b) {
      int64_t n = 0;
      for (int64_t s = 0; s < S; ++s) n += padding.data_i32()[b * S + s] == 0;
      lengths[b] = n;
    }
  auto [states, final] = encoder.forward(dropout_(src_emb(source)), nullptr, padding.defined() ? &lengths : nullptr);
  return {dropout_(states), final, padding};
}

Variable RnnAttention::step(const Variable& input, const Variable& feed, LSTMCell::State& state, const Encoded& enc,
                            int64_t t, Variable* weights) {
  const Variable x = config_.input_feeding ? concat_last({input, feed}) : input;
  state = decoder.forward(x, state);
  const int64_t B = state.h.dim(0), H = config_.d_model;
  const LuongAttention::Output out = attention.forward(reshape(state.h, Shape({B, 1, H})), enc.states, enc.padding, t);
  if (weights) *weights = out.weights;
  return reshape(out.attentional, Shape({B, H}));
}

Variable RnnAttention::decoder_states(const Tensor& target_in, const Encoded& enc, Tensor* weights) {
  TFM_CHECK(target_in.defined() && target_in.shape().ndim() == 2, "rnn-attention: target must be [batch, len] ids");
  const int64_t B = target_in.dim(0), T = target_in.dim(1), H = config_.d_model;
  const Variable emb = dropout_(tgt_emb(target_in));  // [B, T, H]
  LSTMCell::State state = enc.final;
  Variable feed(Tensor::zeros({B, H}));
  std::vector<Variable> outs, step_weights;
  for (int64_t t = 0; t < T; ++t) {
    Variable w;
    feed = step(time_step(emb, t), feed, state, enc, t, weights ? &w : nullptr);
    outs.push_back(feed);
    if (weights && w.defined()) step_weights.push_back(reshape(w, Shape({B, w.dim(2)})));
  }
  if (weights && !step_weights.empty()) *weights = stack_steps(step_weights).data();
  return dropout_(stack_steps(outs));
}

Variable RnnAttention::decode(const Tensor& target_in, const Encoded& enc, Tensor* weights) {
  return project(decoder_states(target_in, enc, weights));
}

Variable RnnAttention::loss(const Batch& batch, const CrossEntropyOptions& options) {
  const Encoded enc = encode(batch.source, batch.source_padding);
  return head->loss(decoder_states(batch.input, enc), batch.target, options);
}

std::vector<std::vector<int32_t>> RnnAttention::greedy(const Tensor& source, const Tensor& padding, int32_t bos,
                                                       int32_t eos, int64_t max_steps) {
  NoGradGuard no_grad;
  const Encoded enc = encode(source, padding);
  const int64_t B = source.dim(0), H = config_.d_model;
  LSTMCell::State state = enc.final;
  Variable feed(Tensor::zeros({B, H}));
  Tensor ids = Tensor::empty({B, 1}, DType::I32);
  for (int64_t b = 0; b < B; ++b) ids.data_i32()[b] = bos;
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(B));
  std::vector<bool> done(static_cast<size_t>(B), false);
  for (int64_t t = 0; t < max_steps; ++t) {
    feed = step(reshape(tgt_emb(ids), Shape({B, H})), feed, state, enc, t, nullptr);
    const Tensor logits = project(feed).data();  // [B, V]
    bool all = true;
    for (int64_t b = 0; b < B; ++b) {
      const float* row = logits.data() + b * config_.vocab_size;
      const int32_t best = static_cast<int32_t>(std::max_element(row, row + config_.vocab_size) - row);
      ids.data_i32()[b] = best;
      if (!done[b]) {
        if (best == eos) done[b] = true;
        else out[b].push_back(best);
      }
      all = all && done[b];
    }
    if (all) break;
  }
  return out;
}

class RnnBeamDecoder : public BeamDecoder {
 public:
  RnnBeamDecoder(RnnAttention& m, const Tensor& source, const Tensor& padding) : m_(m) {
    NoGradGuard no_grad;
    enc_ = m.encode(source, padding);
    state_ = enc_.final;
    feed_ = Variable(Tensor::zeros({source.dim(0), m.config_.d_model}));
  }
  Tensor step(const std::vector<int32_t>& last) override {
    NoGradGuard no_grad;
    const int64_t N = static_cast<int64_t>(last.size()), H = m_.config_.d_model;
    Tensor ids = Tensor::empty({N, 1}, DType::I32);
    std::copy(last.begin(), last.end(), ids.data_i32());
    feed_ = m_.step(reshape(m_.tgt_emb(ids), Shape({N, H})), feed_, state_, enc_, t_++, nullptr);
    return log_softmax(m_.project(feed_)).data();
  }
  void reorder(const std::vector<int64_t>& rows) override {
    state_ = {Variable(gather_rows(state_.h.data(), rows)), Variable(gather_rows(state_.c.data(), rows))};
    feed_ = Variable(gather_rows(feed_.data(), rows));
    enc_.states = Variable(gather_rows(enc_.states.data(), rows));
    if (enc_.padding.defined()) enc_.padding = gather_rows(enc_.padding, rows);
  }

 private:
  RnnAttention& m_;
  RnnAttention::Encoded enc_;
  LSTMCell::State state_;
  Variable feed_;
  int64_t t_ = 0;
};

std::unique_ptr<BeamDecoder> RnnAttention::beam_decoder(const Tensor& source, const Tensor& padding, int64_t) {
  TFM_CHECK(source.defined() && source.shape().ndim() == 2, "rnn-attention: source must be [batch, len] ids, found ",
            source.shape());
  return std::make_unique<RnnBeamDecoder>(*this, source, padding);
}

std::vector<Hypothesis> RnnAttention::beam(const Tensor& source, const BeamOptions& options) {
  TFM_CHECK(source.defined() && source.shape().ndim() == 2 && source.dim(0) == 1,
            "rnn-attention: beam search takes one sentence [1, len], found ", source.shape());
  auto dec = beam_decoder(source, Tensor(), options.max_len);
  return beam_search(*dec, options);
}

Tensor RnnAttention::cross_attention(const Tensor& source, const Tensor& target_in, int64_t layer, int64_t head) {
  TFM_CHECK(layer == -1 || layer == 0, "rnn-attention: one attention layer (--layer 0), found --layer ", layer);
  TFM_CHECK(head == -1 || head == 0, "rnn-attention: one attention head (--head 0), found --head ", head);
  TFM_CHECK(config_.attention.type != "none", "rnn-attention: this model has no attention (attention.type none)");
  TFM_CHECK(source.dim(0) == 1 && target_in.dim(0) == 1, "rnn-attention: cross_attention takes one sentence pair");
  NoGradGuard no_grad;
  Tensor weights;
  decode(target_in, encode(source, Tensor()), &weights);  // [1, T, S]
  return reshape(Variable(weights), Shape({target_in.dim(1), source.dim(1)})).data();
}

TFM_REGISTER_MODEL_ENTRY(
    "rnn-attention", [](const nlohmann::json& config) -> std::unique_ptr<Model> {
      return std::make_unique<RnnAttention>(RnnAttentionConfig::parse(config));
    },
    "LSTM encoder-decoder with attention (Luong et al. 2015; docs/attention.md); trains on parallel data",
    {{"d_model", "int", "256", "embedding and LSTM hidden size"},
     {"seq_len", "int", "128", "longest sentence (tokens, eos included)"},
     {"vocab_size", "int", "0", "0 = from the tokenizer"},
     {"dropout", "number", "0.2", "on embeddings, encoder states and attentional states"},
     {"tie_embeddings", "bool", "true",
      "output layer shares the target embedding (default false for a head that cannot)"},
     {"head", "string|object", "\"linear\"", "registered output head (model.head below)"},
     {"input_feeding", "bool", "true", "feed h~(t-1) with the next decoder input"},
     {"attention", "object", "global/dot", "{\"type\": global | local-m | local-p | none,\n"
                                           "\"score\": dot | general | concat, \"window\": D (10)}"}},
    ModelTraits(DataKind::Parallel, [](const nlohmann::json& config) { return RnnAttentionConfig::parse(config).to_json(); }));

}  // namespace tfm
